"""Pure NumPy kernels: arrays in, arrays out; each op's forward and backward side by side.

Nothing here knows about Tensors or autograd. Arguments arrive already normalised
(see :mod:`cnnlab.shapes`): sizes as ``(height, width)`` pairs and padding as
``((top, bottom), (left, right))``.
"""
