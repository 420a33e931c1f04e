"""PyTorch's creation signatures and CPU-only device handling, against torch."""

import pytest
import torch

import cnnlab


@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
@pytest.mark.parametrize("call", [
    ((2, 3), {}), (((2, 3),), {}), (([2, 3],), {}), ((), {"size": (2, 3)}),
    ((), {"size": [4]}), ((5,), {}),
], ids=["star", "tuple", "list", "size_kw", "size_list", "one_int"])
def test_size_spellings_match_torch(name, call):
    args, kwargs = call
    ours = getattr(cnnlab, name)(*args, **kwargs)
    theirs = getattr(torch, name)(*args, **kwargs)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]


@pytest.mark.parametrize("name", ["zeros", "ones", "rand", "randn"])
def test_dtype_device_requires_grad_keywords(name):
    out = getattr(cnnlab, name)(2, 2, dtype=cnnlab.float64, device="cpu", requires_grad=True)
    assert out.dtype == cnnlab.float64 and out.requires_grad and out.is_leaf
    out = getattr(cnnlab, name)(size=(1,), device=cnnlab.device("cpu"))
    assert out.shape == (1,)


def test_size_given_twice_is_a_type_error():
    with pytest.raises(TypeError):
        torch.rand(2, size=(3,))
    with pytest.raises(TypeError, match="rand: give the size either positionally or as size="):
        cnnlab.rand(2, size=(3,))
    with pytest.raises(TypeError, match="argument 'size' must be a tuple of ints"):
        cnnlab.zeros(size=5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'shape'"):
        cnnlab.zeros(shape=(2,))


def test_normal_forms_shapes_and_dtypes():
    assert cnnlab.normal(0, 1, (3, 3, 3)).shape == torch.normal(0, 1, (3, 3, 3)).shape
    assert cnnlab.normal(0, 1, size=(2,)).dtype == cnnlab.float32
    mean = cnnlab.zeros(4, dtype=cnnlab.float64)
    assert cnnlab.normal(mean, 1.0).shape == (4,)
    assert cnnlab.normal(mean, 1.0).dtype == cnnlab.float64
    assert cnnlab.normal(0.0, cnnlab.ones(2, 3)).shape == torch.normal(0.0, torch.ones(2, 3)).shape
    assert cnnlab.normal(cnnlab.zeros(3, 1), cnnlab.ones(1, 2)).shape == (3, 2)
    cnnlab.manual_seed(0)
    sample = cnnlab.normal(5.0, 0.5, (20000,)).numpy()
    assert abs(sample.mean() - 5.0) < 0.02 and abs(sample.std() - 0.5) < 0.02
    with pytest.raises(TypeError, match="normal: with a number mean and std, size= is required"):
        cnnlab.normal(0, 1)
    with pytest.raises(RuntimeError, match="std must be >= 0.0"):
        cnnlab.normal(0, -1.0, (2,))


def test_randint_forms():
    cnnlab.manual_seed(1)
    for ours, theirs in [(cnnlab.randint(10, (3,)), torch.randint(10, (3,))),
                         (cnnlab.randint(2, 5, (2, 2)), torch.randint(2, 5, (2, 2))),
                         (cnnlab.randint(5, size=(4,)), torch.randint(5, size=(4,))),
                         (cnnlab.randint(low=1, high=3, size=(6,)),
                          torch.randint(low=1, high=3, size=(6,)))]:
        assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == cnnlab.int64
    values = cnnlab.randint(2, 5, (1000,)).numpy()
    assert values.min() == 2 and values.max() == 4


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like", "rand_like",
                                  "randn_like"])
def test_like_family(name):
    source = cnnlab.ones(2, 3, dtype=cnnlab.float64)
    out = getattr(cnnlab, name)(source)
    assert out.shape == (2, 3) and out.dtype == cnnlab.float64
    out = getattr(cnnlab, name)(source, dtype=cnnlab.float32, device="cpu", requires_grad=True)
    assert out.dtype == cnnlab.float32 and out.requires_grad
    assert cnnlab.full_like(source, 7).numpy().tolist() == [[7.0] * 3] * 2
    assert cnnlab.randint_like(source, 3).shape == (2, 3)


def test_device_object_matches_torch():
    for spec in ["cpu", "cuda", "cuda:1", ("cuda", 0)]:
        args = spec if isinstance(spec, tuple) else (spec,)
        ours, theirs = cnnlab.device(*args), torch.device(*args)
        assert repr(ours) == repr(theirs) and str(ours) == str(theirs)
        assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert cnnlab.device("cpu") == cnnlab.device("cpu")
    assert hash(cnnlab.device("cpu")) == hash(cnnlab.device(cnnlab.device("cpu")))
    assert (cnnlab.device("cpu") == "cpu") == (torch.device("cpu") == "cpu")
    assert cnnlab.device("cpu") != cnnlab.device("cuda")
    with pytest.raises(RuntimeError, match="device type at start of device string: gpu"):
        cnnlab.device("gpu")


def test_tensor_device_and_to():
    x = cnnlab.zeros(2)
    assert repr(x.device) == repr(torch.zeros(2).device)
    assert str(x.device) == "cpu"
    assert x.to("cpu") is x and x.to(cnnlab.device("cpu")) is x and x.cpu() is x
    assert x.to("cpu", cnnlab.float64).dtype == cnnlab.float64
    assert x.to(device="cpu", dtype=cnnlab.int64).dtype == cnnlab.int64
    assert x.to(cnnlab.ones(1, dtype=cnnlab.float64)).dtype == cnnlab.float64
    assert x.to("cpu", copy=True) is not x
    with pytest.raises(RuntimeError, match="Tensor.to: device 'cuda:0' is not available"):
        x.to("cuda:0")
    with pytest.raises(RuntimeError, match="Tensor.cuda: cnnlab computes with NumPy on the CPU"):
        x.cuda()
    with pytest.raises(RuntimeError, match="zeros: device 'cuda' is not available"):
        cnnlab.zeros(2, device="cuda")
    assert cnnlab.tensor([1.0], device="cpu").device == cnnlab.device("cpu")


def test_cuda_queries_and_module_to():
    assert cnnlab.cuda.device_count() == 0 and cnnlab.cuda.is_available() is False
    net = cnnlab.nn.Linear(2, 2)
    assert net.to(cnnlab.device("cpu")) is net and net.to("cpu") is net
    assert net.to("cpu", cnnlab.float64).weight.dtype == cnnlab.float64
    assert net.to(device="cpu", dtype=cnnlab.float32).weight.dtype == cnnlab.float32
    with pytest.raises(RuntimeError, match="Module.to: device 'cuda:0' is not available"):
        net.to(cnnlab.device("cuda", 0))
    with pytest.raises(RuntimeError, match="Module.cuda"):
        net.cuda()
