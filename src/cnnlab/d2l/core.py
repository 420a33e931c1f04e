"""The book's training framework: ``Module``, ``Classifier``, ``DataModule``, ``Trainer``.

Written from the behaviour "Dive into Deep Learning" documents for ``d2l.torch``
(sections "Object-Oriented Design for Implementation", "Utility Functions",
"Classification", "LeNet"): a model owns its loss, its optimiser and a board of
curves; a data module hands out loaders; the trainer runs ``fit``.
"""

from __future__ import annotations

import sys

from ._backend import F, nn, torch
from .hyper import HyperParameters
from .plotting import ProgressBoard, in_notebook


def cpu():
    """The CPU device."""
    return torch.device("cpu")


def gpu(i=0):
    """The ``i``-th GPU device (a name only: using it fails on a machine without one)."""
    return torch.device(f"cuda:{i}")


def num_gpus() -> int:
    """How many GPUs there are: ``torch.cuda.device_count()`` (0 with cnnlab)."""
    return torch.cuda.device_count()


_count_gpus = num_gpus   # Trainer's parameter ``num_gpus`` hides the function there


def try_gpu(i=0):
    """``gpu(i)`` if it exists, else the CPU."""
    return gpu(i) if num_gpus() >= i + 1 else cpu()


def try_all_gpus() -> list:
    """Every GPU, as a list (empty without GPUs, as the book's version)."""
    return [gpu(i) for i in range(num_gpus())]


class Module(nn.Module, HyperParameters):
    """Base class of the book's models: ``net``, ``loss``, ``configure_optimizers``, and a
    ``ProgressBoard`` that ``training_step``/``validation_step`` plot onto.

    ``plot_train_per_epoch`` / ``plot_valid_per_epoch``: points per epoch on the board.
    """

    def __init__(self, plot_train_per_epoch=2, plot_valid_per_epoch=1):
        super().__init__()
        self.save_hyperparameters()
        self.board = ProgressBoard()

    def loss(self, y_hat, y):
        raise NotImplementedError

    def forward(self, X):
        if not hasattr(self, "net"):
            raise AttributeError(f"{type(self).__name__}.forward: no self.net; define the "
                                 "network as self.net or override forward")
        return self.net(X)

    def plot(self, key, value, train):
        """Add ``value`` to the curve ``train_<key>`` or ``val_<key>`` of the board."""
        if not hasattr(self, "trainer"):
            raise AttributeError(f"{type(self).__name__}.plot: no trainer yet (plotting "
                                 "happens inside Trainer.fit)")
        trainer = self.trainer
        self.board.xlabel = "epoch"
        if train:
            x = trainer.train_batch_idx / trainer.num_train_batches
            n = trainer.num_train_batches / self.plot_train_per_epoch
        else:
            x = trainer.epoch + 1
            n = trainer.num_val_batches / self.plot_valid_per_epoch
        self.board.draw(x, float(value.detach().to(cpu())),
                        ("train_" if train else "val_") + key, every_n=int(n))

    def training_step(self, batch):
        loss = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", loss, train=True)
        return loss

    def validation_step(self, batch):
        loss = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", loss, train=False)

    def configure_optimizers(self):
        """Minibatch SGD over all parameters with learning rate ``self.lr``."""
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def apply_init(self, inputs, init=None):
        """Run ``inputs`` through once (shaping lazy layers), then ``net.apply(init)``."""
        self.forward(*inputs)
        if init is not None:
            self.net.apply(init)


class Classifier(Module):
    """A :class:`Module` for classification: cross-entropy loss, accuracy on validation."""

    def validation_step(self, batch):
        Y_hat = self(*batch[:-1])
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)

    def accuracy(self, Y_hat, Y, averaged=True):
        """The fraction (``averaged``) or the 0/1 vector of correct predictions."""
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        preds = Y_hat.argmax(dim=1).type(Y.dtype)
        compare = (preds == Y.reshape(-1)).type(torch.float32)
        return compare.mean() if averaged else compare

    def loss(self, Y_hat, Y, averaged=True):
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        Y = Y.reshape((-1,))
        return F.cross_entropy(Y_hat, Y, reduction="mean" if averaged else "none")

    def layer_summary(self, X_shape):
        """Print each top-level layer's name and output shape for a random input."""
        X = torch.randn(*X_shape)
        for layer in self.net:
            X = layer(X)
            print(layer.__class__.__name__, "output shape:\t", X.shape)


class DataModule(HyperParameters):
    """Base class of the book's data: ``train_dataloader``/``val_dataloader`` come from
    ``get_dataloader(train)``."""

    def __init__(self, root="../data", num_workers=4):
        self.save_hyperparameters()

    def get_dataloader(self, train):
        raise NotImplementedError

    def train_dataloader(self):
        return self.get_dataloader(train=True)

    def val_dataloader(self):
        return self.get_dataloader(train=False)

    def get_tensorloader(self, tensors, train, indices=slice(0, None)):
        """A ``DataLoader`` over ``TensorDataset(*tensors)`` rows ``indices``."""
        tensors = tuple(a[indices] for a in tensors)
        dataset = torch.utils.data.TensorDataset(*tensors)
        return torch.utils.data.DataLoader(dataset, self.batch_size, shuffle=train)


class Trainer(HyperParameters):
    """``Trainer(max_epochs).fit(model, data)``: minibatch training with validation.

    Parameters
    ----------
    max_epochs : int
    num_gpus : int
        GPUs to use, at most the number present (none with cnnlab: runs on the CPU).
    gradient_clip_val : float
        Clip the gradients' global norm to this value (0: no clipping).
    plot_file : str or None
        Beyond the book: where ``fit`` saves the training curves as a PNG outside a
        notebook; default ``<ModelClass>-training.png`` in the current folder.
    progress : bool
        Beyond the book: print a progress bar on stderr (on by default).
    """

    def __init__(self, max_epochs, num_gpus=0, gradient_clip_val=0, plot_file=None,
                 progress=True):
        self.save_hyperparameters()
        self.gpus = [gpu(i) for i in range(min(num_gpus, _count_gpus()))]

    def prepare_data(self, data):
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = (len(self.val_dataloader)
                                if self.val_dataloader is not None else 0)

    def prepare_model(self, model):
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        if self.gpus:
            model.to(self.gpus[0])
        self.model = model

    def prepare_batch(self, batch):
        if self.gpus:
            batch = [a.to(self.gpus[0]) for a in batch]
        return batch

    def fit(self, model, data):
        """Train ``model`` on ``data`` for ``max_epochs``. Outside a notebook the curves
        are saved as a PNG whose path is then in ``self.plot_path`` (inside one they are
        shown inline and ``plot_path`` is None)."""
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.epoch = 0
        self.train_batch_idx = 0
        self.val_batch_idx = 0
        for self.epoch in range(self.max_epochs):
            self.fit_epoch()
        self.plot_path = None
        if in_notebook():
            return
        self.plot_path = self.plot_file or f"{type(model).__name__}-training.png"
        model.board.save(self.plot_path)
        if self.progress:
            print(f"training curves saved to {self.plot_path}", file=sys.stderr)

    def fit_epoch(self):
        self.model.train()
        total, count = 0.0, 0
        for batch in self.train_dataloader:
            loss = self.model.training_step(self.prepare_batch(batch))
            self.optim.zero_grad()
            loss.backward()
            with torch.no_grad():
                if self.gradient_clip_val > 0:
                    self.clip_gradients(self.gradient_clip_val, self.model)
                self.optim.step()
            self.train_batch_idx += 1
            total, count = total + float(loss.detach()), count + 1
            self._progress(count, total / count)
        if self.val_dataloader is not None:
            self.model.eval()
            for batch in self.val_dataloader:
                with torch.no_grad():
                    self.model.validation_step(self.prepare_batch(batch))
                self.val_batch_idx += 1
        self._progress(count, total / max(count, 1), done=True)

    def clip_gradients(self, grad_clip_val, model):
        """Scale all gradients down so that their global L2 norm is at most the value."""
        params = [p for p in model.parameters() if p.requires_grad and p.grad is not None]
        norm = torch.sqrt(sum(torch.sum(p.grad ** 2) for p in params))
        if norm > grad_clip_val:
            for param in params:
                param.grad[:] *= grad_clip_val / norm

    def _progress(self, step, mean_loss, done=False):
        """One line per epoch; redrawn in place during the epoch on a terminal."""
        if not self.progress:
            return
        stream = sys.stderr
        epoch = f"epoch {self.epoch + 1}/{self.max_epochs}"
        if not done:
            if stream.isatty():
                width = 24
                filled = int(width * step / max(self.num_train_batches, 1))
                stream.write(f"\r{epoch} [{'#' * filled}{'.' * (width - filled)}] "
                             f"{step}/{self.num_train_batches} train_loss {mean_loss:.4f}")
                stream.flush()
            return
        summary = f"{epoch} train_loss {mean_loss:.4f}"
        for label in ("val_loss", "val_acc"):
            points = self.model.board.data.get(label)
            if points:
                summary += f" {label} {points[-1].y:.4f}"
        stream.write(("\r" if stream.isatty() else "") + summary + " " * 8 + "\n")
        stream.flush()
