"""Shared by the explorer's tests: a small trained LeNet-5 checkpoint and a running server."""

from __future__ import annotations

import threading

import cnnlab
from cnnlab import optim, training
from cnnlab.data import MNIST
from cnnlab.explore import Explorer, make_server
from cnnlab.models import lenet5

TRAIN_IMAGES, TEST_IMAGES = 3000, 500


def train_checkpoint(path):
    """LeNet-5 after one epoch on MNIST's first 3,000 images (seed 0), saved as
    ``cnnlab train`` saves it; returns the checkpoint's path."""
    train_set = MNIST(train=True, download=False).subset(TRAIN_IMAGES)
    test_set = MNIST(train=False, download=False).subset(TEST_IMAGES)
    cnnlab.manual_seed(0)
    model = lenet5()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    metadata = {"model": "lenet", "dataset": "mnist", "classes": MNIST.classes,
                "normalize": list(MNIST.normalize), "input_shape": [1, 28, 28],
                "arguments": {}}
    training.fit(model, optimizer, train_set, test_set, 1, batch_size=32, seed=0,
                 checkpoint_path=path, metadata=metadata)
    return path


class RunningServer:
    """An explorer server on a free port of 127.0.0.1, served from a thread."""

    def __init__(self, model, run, test_set=None):
        self.explorer = Explorer(model, run["classes"], run["normalize"], "test model",
                                 test_set=test_set)
        self.server = make_server(self.explorer)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = self.server.url

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
