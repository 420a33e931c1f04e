"""``HyperParameters`` and ``add_to_class``: the book's object-oriented scaffolding."""

from __future__ import annotations

import inspect


def add_to_class(Class):
    """Decorator: attach the decorated function to ``Class`` as a method (by its name).

    The book defines classes cell by cell with it::

        @add_to_class(Classifier)
        def layer_summary(self, X_shape): ...
    """
    def register(function):
        setattr(Class, function.__name__, function)
        return function
    return register


class HyperParameters:
    """Base class whose :meth:`save_hyperparameters` stores ``__init__``'s arguments."""

    def save_hyperparameters(self, ignore=()):
        """Copy the arguments of the calling ``__init__`` onto ``self``.

        Reads the caller's local variables: every one except ``self``, those in
        ``ignore`` and names starting with ``_`` becomes an attribute, and all of them
        are kept in ``self.hparams`` (a dict).
        """
        caller = inspect.currentframe().f_back
        try:
            _, _, _, local_vars = inspect.getargvalues(caller)
            skip = set(ignore) | {"self"}
            self.hparams = {name: value for name, value in local_vars.items()
                            if name not in skip and not name.startswith("_")
                            and name != "__class__"}
        finally:
            del caller
        for name, value in self.hparams.items():
            setattr(self, name, value)
