"""cnnlab.utils.data against torch.utils.data: datasets, collation, loaders, splits."""

from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import cnnlab
from cnnlab.data import ArrayDataset
from cnnlab.data import Subset as ArraySubset
from cnnlab.utils import data as cud

Pair = namedtuple("Pair", "left right")


def same(ours, theirs):
    """Recursively equal: tensors by values and dtype, containers by structure."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cnnlab.Tensor), type(ours)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for key in theirs:
            same(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same(a, b)
    else:
        assert ours == theirs


class Mixed:
    """Samples of every kind default_collate handles."""

    def __init__(self, library, n=5):
        self.library, self.n = library, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        make = self.library.tensor
        return {"image": rng.normal(size=(2, 3)).astype(np.float32),
                "tensor": make([float(i), 2.0 * i]),
                "label": i, "weight": 0.5 * i, "flag": bool(i % 2), "name": f"s{i}",
                "pair": Pair(np.int16(i), [i, -i]), "tuple": (i, (1.5, "x"))}


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (2, False), (2, True),
                                                  (5, False), (7, True)])
def test_loader_batches_equal_torchs(batch_size, drop_last):
    ours = cud.DataLoader(Mixed(cnnlab), batch_size=batch_size, drop_last=drop_last)
    theirs = tud.DataLoader(Mixed(torch), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    ours_batches, their_batches = list(ours), list(theirs)
    assert len(ours_batches) == len(their_batches)
    for a, b in zip(ours_batches, their_batches):
        same(a, b)


def test_loader_without_batching_equals_torchs():
    for a, b in zip(cud.DataLoader(Mixed(cnnlab, 3), batch_size=None),
                    tud.DataLoader(Mixed(torch, 3), batch_size=None)):
        same(a, b)


def test_tensor_dataset_and_its_fast_path_equal_torchs():
    values = np.arange(24, dtype=np.float64).reshape(6, 4)
    labels = np.array([3, 1, 4, 1, 5, 9])
    ours = cud.TensorDataset(cnnlab.tensor(values), cnnlab.tensor(labels))
    theirs = tud.TensorDataset(torch.tensor(values), torch.tensor(labels))
    assert len(ours) == len(theirs) == 6
    same(ours[2], theirs[2])
    same(list(cud.DataLoader(ours, batch_size=4)), list(tud.DataLoader(theirs, batch_size=4)))
    # The gather route gives what per-sample collation gives.
    sampler = [[5, 0, 3], [1]]
    fast = list(cud.DataLoader(ours, batch_sampler=sampler))
    slow = list(cud.DataLoader(ours, batch_sampler=sampler, collate_fn=cud.default_collate))
    same(fast, list(tud.DataLoader(theirs, batch_sampler=sampler)))
    for a, b in zip(fast, slow):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x.numpy(), y.numpy())
    with pytest.raises(ValueError, match=r"size mismatch between tensors: first dimensions "
                                         r"\[6, 5\]"):
        cud.TensorDataset(cnnlab.zeros(6), cnnlab.zeros(5))


def test_shuffle_is_a_new_permutation_each_epoch_and_seeded():
    data = cud.TensorDataset(cnnlab.arange(50))
    loader = cud.DataLoader(data, batch_size=8, shuffle=True,
                            generator=cnnlab.Generator().manual_seed(1))
    epochs = [np.concatenate([b[0].numpy() for b in loader]) for _ in range(2)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(50))
    assert epochs[0].tolist() != epochs[1].tolist()
    again = cud.DataLoader(data, batch_size=8, shuffle=True,
                           generator=cnnlab.Generator().manual_seed(1))
    assert np.concatenate([b[0].numpy() for b in again]).tolist() == epochs[0].tolist()
    # Without a generator, cnnlab.manual_seed fixes the order.
    orders = []
    for _ in range(2):
        cnnlab.manual_seed(5)
        orders.append([b[0].tolist() for b in cud.DataLoader(data, batch_size=50,
                                                             shuffle=True)])
    assert orders[0] == orders[1]


@pytest.mark.parametrize("size,lengths", [(10, [0.5, 0.5]), (10, [0.33, 0.33, 0.34]),
                                          (11, [0.8, 0.2]), (7, [0.1, 0.2, 0.7]),
                                          (9, [4, 5]), (5, [0, 5]), (3, [1.0])])
def test_random_split_lengths_match_torch_and_partition(size, lengths):
    ours = cud.random_split(range(size), lengths,
                            generator=cnnlab.Generator().manual_seed(0))
    theirs = tud.random_split(range(size), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    everything = sorted(i for subset in ours for i in subset)
    assert everything == list(range(size))


def test_random_split_errors_and_array_datasets():
    with pytest.raises(ValueError, match=r"sum of input lengths \(9\) does not equal the "
                                         r"length of the input dataset \(10\)"):
        cud.random_split(range(10), [4, 5])
    images = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2)
    train, val = cud.random_split(ArrayDataset(images, np.arange(10)), [0.7, 0.3])
    assert isinstance(train, ArraySubset) and (len(train), len(val)) == (7, 3)
    assert sorted(train.labels.tolist() + val.labels.tolist()) == list(range(10))
    assert cnnlab.data.DataLoader(train, batch_size=4).__len__() == 2


def test_iterable_dataset_batches_equal_torchs():
    def stream(library):
        class Numbers(library.utils.data.IterableDataset):
            def __iter__(self):
                return iter([library.tensor([float(i)]) for i in range(7)])
        return Numbers()
    same(list(cud.DataLoader(stream(cnnlab), batch_size=3)),
         list(tud.DataLoader(stream(torch), batch_size=3)))
    same(list(cud.DataLoader(stream(cnnlab), batch_size=3, drop_last=True)),
         list(tud.DataLoader(stream(torch), batch_size=3, drop_last=True)))
    with pytest.raises(ValueError, match="IterableDataset: expected unspecified shuffle"):
        cud.DataLoader(stream(cnnlab), shuffle=True)


def test_samplers_and_option_errors():
    data = list(range(6))
    assert list(cud.BatchSampler(cud.SequentialSampler(data), 4, True)) == [[0, 1, 2, 3]]
    assert len(cud.BatchSampler(cud.SequentialSampler(data), 4, False)) == 2
    drawn = list(cud.RandomSampler(data, replacement=True, num_samples=20,
                                   generator=cnnlab.Generator().manual_seed(0)))
    assert len(drawn) == 20 and set(drawn) <= set(data)
    picked = list(cud.SubsetRandomSampler([10, 20, 30]))
    assert sorted(picked) == [10, 20, 30]
    loader = cud.DataLoader(data, sampler=[5, 4], batch_size=1)
    assert [b.tolist() for b in loader] == [[5], [4]]
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        cud.DataLoader(data, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        cud.DataLoader(data, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be a positive int or None, got 0"):
        cud.DataLoader(data, batch_size=0)
    with pytest.raises(TypeError, match="generator must be a cnnlab.Generator"):
        list(cud.DataLoader(data, shuffle=True, generator=3))
    with pytest.raises(RuntimeError, match="each element in list of batch should be of "
                                           "equal size"):
        cud.default_collate([(1, 2), (3,)])
    with pytest.raises(TypeError, match="found <class 'object'>"):
        cud.default_collate([object()])
    # num_workers is accepted: the samples are read in this process.
    assert len(list(cud.DataLoader(data, batch_size=4, num_workers=2))) == 2


def test_concat_and_subset_like_torch():
    ours = cud.Subset(cud.ConcatDataset([range(3), range(10, 14)]), [0, 4, 6])
    theirs = tud.Subset(tud.ConcatDataset([range(3), range(10, 14)]), [0, 4, 6])
    assert [ours[i] for i in range(3)] == [theirs[i] for i in range(3)] == [0, 11, 13]
    assert len(ours) == 3
    with pytest.raises(IndexError):
        cud.ConcatDataset([range(2)])[2]
