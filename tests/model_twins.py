"""The same small models built in cnnlab and in PyTorch, with the same parameter names.

Each entry of ``TWINS`` is ``name -> (build, input_shape)`` where ``build(nn)`` builds the
model with ``nn`` being ``cnnlab.nn`` or ``torch.nn``: one definition, two frameworks,
so the state dicts have the same keys by construction. Kept small (narrow channels,
small images) so that round-trip and ONNX tests stay fast.
"""


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def lenet_sigmoid_avg(nn):
    """The book's original LeNet: sigmoid and average pooling."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def alexnet_small(nn):
    """AlexNet's shape (big strided conv, overlapping max pools, dropout MLP), narrowed."""
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(8, 16, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(16, 16, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
        nn.Linear(16 * 2 * 2, 32), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(32, 10))


def vgg_small(nn):
    def block(num_convs, in_channels, out_channels):
        layers = []
        for _ in range(num_convs):
            layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
            in_channels = out_channels
        return nn.Sequential(*layers, nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(block(1, 1, 4), block(2, 4, 8), nn.Flatten(),
                         nn.Linear(8 * 8 * 8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 10))


def nin_small(nn):
    def block(in_channels, out_channels, kernel_size, stride, padding):
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())
    return nn.Sequential(
        block(1, 8, kernel_size=5, stride=2, padding=0), nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5), block(8, 10, kernel_size=3, stride=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


# name -> (build, input shape)
TWINS = {
    "lenet": (lenet, (2, 1, 28, 28)),
    "lenet-sigmoid-avg": (lenet_sigmoid_avg, (2, 1, 28, 28)),
    "alexnet-small": (alexnet_small, (2, 1, 128, 128)),
    "vgg-small": (vgg_small, (2, 1, 32, 32)),
    "nin-small": (nin_small, (2, 1, 32, 32)),
}
