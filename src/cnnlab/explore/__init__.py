"""``cnnlab explore``: watch a trained CNN think, in the browser, down to each multiply-add.

A local web server (:mod:`~cnnlab.explore.server`, Python's ``http.server``) serves one
page (``static/``: plain HTML, CSS and JavaScript, no build step, nothing fetched from
the network) and answers its questions with cnnlab (:mod:`~cnnlab.explore.lab`): every
layer's feature maps for a digit, one neuron's arithmetic and receptive field, the
gradients of a class or a neuron with respect to the input, and the output size of a
layer in the chapter's playground (:mod:`~cnnlab.explore.playground`).

Like :mod:`cnnlab.viz`, this is a layer on top of the library: the library never
imports it.
"""

from .lab import Explorer, RequestError
from .server import ExploreServer, make_server

__all__ = ["ExploreServer", "Explorer", "RequestError", "make_server"]
