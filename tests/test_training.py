"""cnnlab.training: the training loop matches PyTorch's step for step, a working model
learns real MNIST digits and a broken one does not, checkpoints hold the whole run,
and a resumed run ends with exactly the weights of an uninterrupted one."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import cnnlab
from cnnlab import checkpoint, optim, training
from cnnlab.data import MNIST, DataLoader, to_tensor
from cnnlab.models import lenet5


@pytest.fixture(scope="module")
def mnist():
    """The first 2,000 training and 1,000 test images of the real MNIST (.cache/npm)."""
    return MNIST(train=True).subset(2000), MNIST(train=False).subset(1000)


def torch_lenet():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10))


def new_run(seed=0, optimizer="sgd", lr=0.05):
    cnnlab.manual_seed(seed)
    model = lenet5()
    if optimizer == "sgd":
        return model, optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return model, optim.Adam(model.parameters(), lr=lr)


def weights(model) -> dict:
    return {name: value.numpy().copy() for name, value in model.state_dict().items()}


# ------------------------------------------------------------ against PyTorch


@pytest.mark.parametrize("kind, lr", [("sgd", 0.05), ("adam", 1e-3)], ids=["sgd-momentum", "adam"])
def test_train_epoch_takes_the_steps_pytorch_takes(mnist, kind, lr):
    """Same initial weights, same batches: after 6 steps the weights, the epoch's mean
    loss and accuracy agree with PyTorch's (float32, so to rounding)."""
    train, _ = mnist
    data = train.subset(6 * 32)
    model, optimizer = new_run(optimizer=kind, lr=lr)
    reference = torch_lenet()
    with torch.no_grad():
        for param, (_, value) in zip(reference.parameters(), model.state_dict().items()):
            param.copy_(torch.from_numpy(value.numpy()))
    torch_optimizer = (torch.optim.SGD(reference.parameters(), lr=lr, momentum=0.9)
                       if kind == "sgd" else torch.optim.Adam(reference.parameters(), lr=lr))
    losses, correct = [], 0
    for images, labels in DataLoader(data, batch_size=32):
        inputs = torch.from_numpy(images.numpy())
        torch_optimizer.zero_grad()
        logits = reference(inputs)
        loss = TF.cross_entropy(logits, torch.from_numpy(labels.numpy()))
        loss.backward()
        torch_optimizer.step()
        losses.append(loss.item())
        correct += int((logits.argmax(1).numpy() == labels.numpy()).sum())

    result, points = training.train_epoch(model, DataLoader(data, batch_size=32), optimizer)

    # Adam divides by sqrt(v): where a gradient is tiny, float32 rounding of it moves the
    # step by a visible fraction of lr (measured: 2e-5 = 2% of a step, on 1 weight of 10k).
    atol = 1e-5 if kind == "sgd" else 0.1 * lr
    for (name, value), param in zip(model.state_dict().items(), reference.parameters()):
        np.testing.assert_allclose(value.numpy(), param.detach().numpy(), rtol=1e-4,
                                   atol=atol, err_msg=name)
    assert result.train_loss == pytest.approx(np.mean(losses), rel=1e-5)
    assert result.train_accuracy == correct / len(data)
    assert result.images == len(data) and math.isnan(result.test_accuracy)
    assert [p["epoch"] for p in points] == pytest.approx([k / 6 for k in range(1, 7)])


def test_evaluate_is_the_mean_over_samples(mnist):
    """Loss and accuracy are means over all samples, whatever the batch size (the last
    batch smaller), and equal PyTorch's cross-entropy of the same logits."""
    _, test = mnist
    model, _ = new_run()
    data = test.subset(250)
    loss, accuracy = training.evaluate(model, DataLoader(data, batch_size=64))
    with cnnlab.no_grad():
        logits = torch.from_numpy(model(to_tensor(data.images)).numpy())
    labels = torch.from_numpy(data.labels)
    assert loss == pytest.approx(TF.cross_entropy(logits, labels).item(), rel=1e-5)
    assert accuracy == int((logits.argmax(1) == labels).sum()) / len(data)
    assert model.training  # evaluate restores the mode it found


# ------------------------------------------------------------ learning


def test_lenet_learns_mnist_and_a_frozen_one_does_not(mnist):
    """3 epochs on 2,000 real MNIST digits reach about 0.9 test accuracy on 1,000 others
    (measured: 0.886-0.917 over seeds 0-4, PyTorch 0.874-0.916 with its own inits);
    with lr=0 the weights never move and accuracy stays at chance (0.08-0.16)."""
    train, test = mnist
    model, optimizer = new_run(seed=0)
    log = training.fit(model, optimizer, train, test, epochs=3, seed=0)
    accuracies = [result.test_accuracy for result in log.epochs]
    assert accuracies[-1] > 0.8, accuracies
    assert log.epochs[-1].train_loss < log.epochs[0].train_loss

    frozen, frozen_optimizer = new_run(seed=0, lr=0.0)
    before = weights(frozen)
    frozen_log = training.fit(frozen, frozen_optimizer, train, test, epochs=1, seed=0)
    after = weights(frozen)
    assert all(np.array_equal(before[name], after[name]) for name in before)
    assert frozen_log.epochs[-1].test_accuracy < 0.25
    assert frozen_log.epochs[-1].train_loss > 2.2  # about ln(10) = 2.30: no learning


def test_progress_reports_every_step(mnist):
    train, _ = mnist
    model, optimizer = new_run()
    seen = []
    loader = DataLoader(train.subset(200), batch_size=64)
    result, _ = training.train_epoch(model, loader, optimizer, progress=seen.append,
                                     epoch=2, epochs=3)
    assert [p.step for p in seen] == [1, 2, 3, 4] and {p.steps for p in seen} == {4}
    assert [p.images for p in seen] == [64, 128, 192, 200]
    assert {(p.epoch, p.epochs, p.epoch_images) for p in seen} == {(2, 3, 200)}
    last = seen[-1]
    assert last.loss == pytest.approx(result.train_loss)
    assert last.accuracy == result.train_accuracy
    assert last.images_per_s > 0
    # Left: this epoch's remaining 0 images plus one more epoch of 200.
    assert last.eta_s == pytest.approx(200 / last.images_per_s)
    # This epoch alone: 136 images left after the first step, nothing after the last.
    assert seen[0].epoch_eta_s == pytest.approx(136 / seen[0].images_per_s)
    assert last.epoch_eta_s == 0.0


def test_epoch_order_depends_on_seed_and_epoch_only():
    seeds = {(s, e): training.epoch_seed(s, e) for s in range(4) for e in range(4)}
    assert len(set(seeds.values())) == 16  # seed 0 epoch 1 != seed 1 epoch 0
    assert training.epoch_seed(3, 2) == seeds[3, 2]


# ------------------------------------------------------------ checkpoints and resume


def test_checkpoint_holds_the_whole_run(tmp_path, mnist):
    train, test = mnist
    model, optimizer = new_run()
    path = tmp_path / "checkpoint.npz"
    metadata = {"model": "lenet", "arguments": {"lr": 0.05, "seed": 0}}
    log = training.fit(model, optimizer, train.subset(128), test.subset(100), epochs=2,
                       checkpoint_path=path, metadata=metadata)
    loaded = checkpoint.load(path)
    assert loaded["epoch"] == 2
    state = model.state_dict()
    assert list(loaded["model_state"]) == list(state)
    for name, value in state.items():
        assert loaded["model_state"][name].dtype == np.float32
        np.testing.assert_array_equal(loaded["model_state"][name], value.numpy())
    saved_optimizer = loaded["optimizer_state"]
    assert saved_optimizer["param_groups"][0]["lr"] == 0.05
    assert saved_optimizer["param_groups"][0]["momentum"] == 0.9
    buffers = saved_optimizer["state"]
    assert sorted(buffers) == list(range(10))
    for index, param in enumerate(model.parameters()):
        np.testing.assert_array_equal(buffers[index]["momentum_buffer"],
                                      optimizer.state[id(param)]["momentum_buffer"])
    assert loaded["rng_state"] == cnnlab.get_rng_state()
    assert loaded["extra"]["run"] == metadata
    assert training.TrainingLog.from_dict(loaded["extra"]["log"]) == log
    assert [result.epoch for result in log.epochs] == [1, 2]


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path, mnist, kind):
    """2 epochs in one go == 1 epoch, a fresh process state, then resume for the second:
    weights and optimizer state equal exactly, the log continues the same curve."""
    train, test = mnist
    train, test = train.subset(256), test.subset(100)
    lr = 0.05 if kind == "sgd" else 1e-3
    model, optimizer = new_run(seed=3, optimizer=kind, lr=lr)
    straight = training.fit(model, optimizer, train, test, epochs=2, seed=3)

    first, first_optimizer = new_run(seed=3, optimizer=kind, lr=lr)
    path = tmp_path / "checkpoint.npz"
    training.fit(first, first_optimizer, train, test, epochs=1, seed=3, checkpoint_path=path)
    cnnlab.manual_seed(12345)  # a new process: other weights, another generator state
    resumed, resumed_optimizer = new_run(seed=99, optimizer=kind, lr=lr)
    start, log, run = training.resume(path, resumed, resumed_optimizer)
    assert (start, len(log.epochs), run) == (1, 1, {})
    log = training.fit(resumed, resumed_optimizer, train, test, epochs=2, seed=3,
                       start_epoch=start, log=log)

    expected, got = weights(model), weights(resumed)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    for param, other in zip(model.parameters(), resumed.parameters()):
        own, theirs = optimizer.state[id(param)], resumed_optimizer.state[id(other)]
        assert own.keys() == theirs.keys()
        for key in own:
            np.testing.assert_array_equal(theirs[key], own[key], err_msg=key)
    assert log.points == straight.points
    assert [(r.test_loss, r.test_accuracy) for r in log.epochs] == \
        [(r.test_loss, r.test_accuracy) for r in straight.epochs]


def test_foreign_checkpoints_are_refused(tmp_path):
    model, optimizer = new_run()
    plain = tmp_path / "plain.npz"
    checkpoint.save(plain, model.state_dict())
    with pytest.raises(ValueError, match=r"not one written by cnnlab.training \(no run metadata"):
        training.read_checkpoint(plain)

    other = tmp_path / "other.npz"
    layer = cnnlab.nn.Linear(3, 2)
    training.save_checkpoint(other, layer, optim.SGD(layer.parameters(), lr=0.1), epoch=1)
    loaded = training.read_checkpoint(other)
    with pytest.raises(ValueError, match=r"other.npz: its weights do not fit the model: "
                                         r"Error\(s\) in loading state_dict for Sequential:"
                                         r'\n\tMissing key\(s\) in state_dict: "0.weight"'):
        training.restore(loaded, model, path=other)

    adam = tmp_path / "adam.npz"
    model, adam_optimizer = new_run(optimizer="adam", lr=1e-3)
    training.save_checkpoint(adam, model, adam_optimizer, epoch=1)
    model, optimizer = new_run()
    with pytest.raises(ValueError, match=r"adam.npz: its optimizer state is not a SGD's"):
        training.restore(training.read_checkpoint(adam), model, optimizer, path=adam)


def test_fit_checks_its_counts(mnist):
    train, test = mnist
    model, optimizer = new_run()
    with pytest.raises(ValueError, match=r"fit: epochs must be an int >= 1, got 0"):
        training.fit(model, optimizer, train, test, epochs=0)
    with pytest.raises(ValueError, match=r"fit: batch_size must be an int >= 1, got 2.0"):
        training.fit(model, optimizer, train, test, epochs=1, batch_size=2.0)
