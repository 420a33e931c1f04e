"""Pictures are right, not just present: sizes, pixels and colours read back."""

import sys

import numpy as np
import pytest
import torch  # noqa: F401  (the suite's oracle; keeps this file failing without it)
from PIL import Image

from cnnlab import viz


def seed_image():
    image = np.ones((6, 8), dtype=np.float32)
    image[:, 2:6] = 0
    return image


def cell_colour(image, row, col, scale):
    """The colour at the centre of array cell (row, col) of a scaled picture."""
    return image.getpixel((col * scale + scale // 2, row * scale + scale // 2))


def test_gray_image_is_scaled_with_nearest_neighbour():
    picture = viz.gray_image(seed_image(), scale=7)
    assert picture.mode == "L" and picture.size == (8 * 7, 6 * 7)
    pixels = np.asarray(picture)
    expected = np.kron(seed_image() * 255, np.ones((7, 7))).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)


def test_gray_image_maps_the_range_to_black_and_white():
    picture = viz.gray_image(np.array([[-1.0, 0.0, 0.5, 1.0, 2.0]]), vmin=0.0, vmax=1.0)
    assert list(np.asarray(picture)[0]) == [0, 0, 128, 255, 255]


def test_signed_image_colours_are_symmetric_around_white():
    values = np.array([[0.0, 1.0, -1.0, 0.5, -0.5]])
    picture = viz.signed_image(values, scale=10)
    zero, plus, minus, half_plus, half_minus = (cell_colour(picture, 0, c, 10) for c in range(5))
    assert min(zero) > 230 and max(zero) - min(zero) < 10  # near white
    assert plus[0] > 100 and plus[2] < 60  # red
    assert minus[2] > 80 and minus[0] < 20  # blue
    assert half_plus[0] > half_plus[2] and half_minus[2] > half_minus[0]
    assert sum(half_plus) > sum(plus) and sum(half_minus) > sum(minus)  # lighter nearer 0
    # The grid sits at the top-left, the colour bar to its right (wider picture).
    assert picture.width > 5 * 10 + 20 and picture.height >= 10


def test_signed_image_of_zeros_is_white():
    picture = viz.signed_image(np.zeros((2, 3)), scale=4)
    colours = {cell_colour(picture, r, c, 4) for r in range(2) for c in range(3)}
    assert len(colours) == 1 and min(colours.pop()) > 230


def test_diverging_colours_end_points():
    colours = viz.diverging_colours(np.array([-2.0, 0.0, 2.0]), vmax=2.0)
    assert colours.shape == (3, 3) and colours.dtype == np.uint8
    assert colours[0][2] > colours[0][0] and colours[2][0] > colours[2][2]


@pytest.mark.parametrize("value, text", [
    (4.0, "4"), (-3, "-3"), (0.5599, "0.56"), (-1.234, "-1.23"), (123.4, "123"),
    (float("-inf"), "-∞"), (float("nan"), "nan"), (-0.0, "0"),
])
def test_format_number(value, text):
    assert viz.format_number(value) == text


def test_number_grid_shades_cells_and_rejects_3d():
    plain = viz.number_grid(np.arange(4).reshape(2, 2))
    shaded = viz.number_grid(np.arange(4).reshape(2, 2), shade=[(0, 0)])
    assert plain.size == shaded.size
    colours = {colour for _, colour in shaded.getcolors(1 << 16)}
    assert viz.SHADE in colours and viz.SHADE not in {c for _, c in plain.getcolors(1 << 16)}
    with pytest.raises(ValueError, match=r"values must be 2-D \(H, W\), got shape \(1, 2, 2\)"):
        viz.number_grid(np.zeros((1, 2, 2)))


def test_read_gray_round_trip(tmp_path):
    values = (np.arange(12).reshape(3, 4) * 20).astype(np.uint8)
    Image.fromarray(values, "L").save(tmp_path / "g.png")
    Image.fromarray(values, "L").convert("RGB").save(tmp_path / "c.png")
    np.testing.assert_allclose(viz.read_gray(tmp_path / "g.png"), values / 255.0, atol=1e-7)
    np.testing.assert_allclose(viz.read_gray(tmp_path / "c.png"), values / 255.0, atol=1 / 255)
    with pytest.raises(OSError):
        viz.read_gray(tmp_path / "missing.png")


def make_animation(input_size=(5, 5), kernel=(3, 3), stride=(2, 2), padding=((1, 1), (1, 1)),
                   dilation=(1, 1), out=(3, 3)):
    return viz.WindowAnimation(np.arange(np.prod(input_size)).reshape(input_size),
                               np.arange(np.prod(out)).reshape(out), kernel, stride, padding,
                               dilation, kernel=np.ones(kernel), title="test")


def sample(image, box):
    """A pixel near the top-left corner of a cell box, clear of its border and text."""
    x0, y0, _, _ = box
    return image.getpixel((x0 + 4, y0 + 4))


def check_frame(animation, image, k):
    """Every cell of frame ``k`` has the colour of its role."""
    window = set(animation.window(k - 1)) if k else set()
    (top, _), (left, _) = animation.padding
    height, width = animation.input.shape
    for row in range(animation.padded_shape[0]):
        for col in range(animation.padded_shape[1]):
            inside = 0 <= row - top < height and 0 <= col - left < width
            expected = viz.WINDOW if (row, col) in window else (
                viz.INPUT if inside else viz.PADDING)
            assert sample(image, animation.input_box(row, col)) == expected, (k, row, col)
    for index in range(animation.output.size):
        row, col = divmod(index, animation.output.shape[1])
        expected = (viz.OUTPUT_DONE if index < k - 1 else
                    viz.OUTPUT_NOW if index == k - 1 else viz.WHITE)
        assert sample(image, animation.output_box(row, col)) == expected, (k, row, col)


def test_window_positions_follow_stride_and_dilation():
    animation = make_animation(input_size=(7, 7), kernel=(2, 3), stride=(1, 2),
                               padding=((0, 0), (1, 0)), dilation=(2, 1), out=(5, 3))
    assert animation.window(0) == [(0, 0), (0, 1), (0, 2), (2, 0), (2, 1), (2, 2)]
    assert animation.window(4) == [(1, 2), (1, 3), (1, 4), (3, 2), (3, 3), (3, 4)]
    assert animation.frame_count == 16


def test_gif_frames_keep_exact_colours(tmp_path):
    animation = make_animation()
    animation.save_gif(tmp_path / "a.gif", duration=50)
    with Image.open(tmp_path / "a.gif") as gif:
        assert gif.n_frames == 3 * 3 + 1
        assert gif.size == (animation.width, animation.height)
        for k in (0, 1, 5, 9):
            gif.seek(k)
            check_frame(animation, gif.convert("RGB"), k)


def test_frame_index_is_checked():
    with pytest.raises(ValueError, match=r"k must be in \[0, 10\), got 10"):
        make_animation().frame(10)


def test_training_plot_is_an_image():
    picture = viz.training_plot([3.0, 1.0, 0.1], {"w": [0.1, 0.5, 0.9]}, {"w": 1.0})
    assert picture.mode == "RGB" and picture.width > 600 and picture.height > 200
    assert len(picture.getcolors(1 << 20)) > 10  # something was drawn


def test_missing_pillow_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(viz.VizUnavailable, match=r'pip install "cnnlab\[viz\]"'):
        viz.gray_image(np.zeros((2, 2)))
    with pytest.raises(ImportError):
        viz.check_available()


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(viz.VizUnavailable, match=r'pip install "cnnlab\[viz\]"'):
        viz.check_available()
