"""Every code cell of the chapter notebook, run on cnnlab with only the imports changed.

Cells run in order in one namespace, as in the notebook; a cell's last expression is
echoed as a notebook does. The printed text must equal the notebook's output, with the
module name ``torch.`` read as ``cnnlab.`` (the only import change is
``import cnnlab as torch``). Random cells must print the same structure (every number
replaced by a placeholder), since cnnlab's generator is not PyTorch's.
"""

import ast
import contextlib
import io
import re

import numpy as np
import pytest

import cnnlab

IMPORTS = "import cnnlab as torch\nimport cnnlab.nn as nn\nfrom cnnlab import nn\n"


def run_cell(code: str, namespace: dict) -> str:
    """Execute ``code`` like a notebook cell and return what it printed (and echoed)."""
    tree = ast.parse(code)
    echo = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        echo = ast.Expression(tree.body.pop().value)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(tree, "<cell>", "exec"), namespace)
        if echo is not None:
            value = eval(compile(echo, "<cell>", "eval"), namespace)
            if value is not None:
                print(repr(value))
    return buffer.getvalue()


def expected(text: str) -> str:
    return text.replace("torch.", "cnnlab.").strip("\n")


def skeleton(text: str) -> str:
    """Text with every number replaced and whitespace removed: the printed structure."""
    return re.sub(r"\s+", "", re.sub(r"-?\d+\.\d+(e[+-]\d+)?", "N", text))


CORR2D = '''
def corr2d(X, kernel):
    h, w = kernel.shape
    out = torch.zeros(X.size()[0] - h + 1, X.size()[1] - w + 1 )
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (X[i : i+h, j : j+w] *kernel).sum()
    return out

X = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
K = torch.tensor([[0, 1], [1, 0]])
'''

CONV2D_CLASS = '''
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super(Conv2D, self).__init__()
        self.weight = nn.Parameter(torch.randn(kernel_size))
        self.bias = nn.Parameter(torch.randn(1))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
'''

IMAGE = '''
image = torch.ones(6,8)
image[:,2:6] = 0
print(image.dtype)
'''

SHOW = '''
from PIL import Image
import numpy as np
def show_numpy_GRAY(image):
    data = image.numpy().astype(np.uint8)
    data *= 255
    img = Image.fromarray(data, 'L')
    img.show()
show_numpy_GRAY(image)
'''

EDGE = '''
K = torch.tensor([[1.0, -1]])
Y = corr2d(image, K)
show_numpy_GRAY(Y)
'''

LEARN = '''
# 构造一个核数组形状是(1, 2)的二维卷积层
CONV2D = Conv2D(kernel_size=(1, 2))
K = torch.tensor([[1, -1]], dtype = torch.float)
print(K.dtype)
Y = corr2d(image, K)

step = 30
lr = 0.01

print("weight: ", CONV2D.weight.data)
print("bias: ", CONV2D.bias.data)

for i in range(step):
    Y_hat = CONV2D(image)

    l = ((Y_hat - Y) ** 2).sum()
    l.backward()

    CONV2D.weight.data -= lr * CONV2D.weight.grad
    CONV2D.bias.data -= lr * CONV2D.bias.grad

    # 梯度清0
    CONV2D.weight.grad.fill_(0)
    CONV2D.bias.grad.fill_(0)
    if (i + 1) % 5 == 0:
        print('Step %d, loss %.3f' % (i + 1, l.item()))

print("weight: ", CONV2D.weight.data)
print("bias: ", CONV2D.bias.data)
'''

LEARN_OUTPUT = '''torch.float32
weight:  tensor([[ 1.3820, -0.5599]])
bias:  tensor([-0.1046])
Step 5, loss 0.466
Step 10, loss 0.053
Step 15, loss 0.006
Step 20, loss 0.001
Step 25, loss 0.000
Step 30, loss 0.000
weight:  tensor([[ 0.9998, -0.9990]])
bias:  tensor([-0.0004])'''

# (code, printed output, exact?) in notebook order after the learning cells.
CELLS = [
    ("X=torch.randn(8,8)\nprint(X.shape)", "torch.Size([8, 8])", True),
    ("(1,1)+X.shape", "(1, 1, 8, 8)", True),
    ("conv2d = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3, padding=1)\n"
     "X=torch.randn(8,8)\nX = X.view((1,1)+X.shape)\nY = conv2d(X)\nY.shape[2:]",
     "torch.Size([8, 8])", True),
    ("Y.shape[2:]", "torch.Size([8, 8])", True),
    ("conv2d = nn.Conv2d(1, 1, kernel_size=3, padding=1, stride=2)\n\n"
     "X=torch.randn(8,8)\nX = X.view((1,1)+X.shape)\nY = conv2d(X)\nY.shape[2:]",
     "torch.Size([4, 4])", True),
    ("conv2d = nn.Conv2d(1, 1, kernel_size=(5, 5), padding=(0, 1), stride=(3, 4))\n\n"
     "X=torch.randn(8,8)\nX = X.view((1,1)+X.shape)\nY = conv2d(X)\nY.shape[2:]",
     "torch.Size([2, 2])", True),
    ('''
def corr2d_multi_in(X, K):
    # 沿着X和K的第0维（通道维）分别计算再相加
    print(X[0, :, :], K[0, :, :])
    res = corr2d(X[0, :, :], K[0, :, :])
    #接下来我们实现含多个输入通道的互相关运算。我们只需要对每个通道做互相关运算，然后进行累加。
    for i in range(1, X.shape[0]):
        print(X[i, :, :], K[i, :, :])
        res += corr2d(X[i, :, :], K[i, :, :])
    return res

X = torch.tensor([[[0, 1, 2], [3, 4, 5], [6, 7, 8]],
              [[1, 2, 3], [4, 5, 6], [7, 8, 9]]])

K = torch.tensor([[[0, 1], [2, 3]], [[1, 2], [3, 4]]])

corr2d_multi_in(X, K)
''', '''tensor([[0, 1, 2],
        [3, 4, 5],
        [6, 7, 8]]) tensor([[0, 1],
        [2, 3]])
tensor([[1, 2, 3],
        [4, 5, 6],
        [7, 8, 9]]) tensor([[1, 2],
        [3, 4]])
tensor([[ 56.,  72.],
        [104., 120.]])''', True),
    ('''
data1 = torch.randn(3,4)
print(data1)
data2 = torch.randn(3,4)
print(data2)

# 增加一个维度， 两个tensor 堆叠
print(torch.stack([data1,data2]))

print(torch.stack([data1,data2], dim =1))

print(torch.stack([data1,data2], dim =2))
''', None, False),
    ('''
K = torch.stack([K, K + 1, K + 2])
def coor2d_muliti_in_out(X,K):
    out = []
    for k in K:
        out.append(corr2d_multi_in(X,k))
        #stack 将数组 合并 按维度
    return torch.stack(out)



print(K.shape) # torch.Size([3, 2, 2, 2])


out = coor2d_muliti_in_out(X, K)
print(out)
''', '''torch.Size([3, 2, 2, 2])
tensor([[0, 1, 2],
        [3, 4, 5],
        [6, 7, 8]]) tensor([[0, 1],
        [2, 3]])
tensor([[1, 2, 3],
        [4, 5, 6],
        [7, 8, 9]]) tensor([[1, 2],
        [3, 4]])
tensor([[0, 1, 2],
        [3, 4, 5],
        [6, 7, 8]]) tensor([[1, 2],
        [3, 4]])
tensor([[1, 2, 3],
        [4, 5, 6],
        [7, 8, 9]]) tensor([[2, 3],
        [4, 5]])
tensor([[0, 1, 2],
        [3, 4, 5],
        [6, 7, 8]]) tensor([[2, 3],
        [4, 5]])
tensor([[1, 2, 3],
        [4, 5, 6],
        [7, 8, 9]]) tensor([[3, 4],
        [5, 6]])
tensor([[[ 56.,  72.],
         [104., 120.]],

        [[ 76., 100.],
         [148., 172.]],

        [[ 96., 128.],
         [192., 224.]]])''', True),
    ('''
def pool2d(X, pool_size, mode='max'):
    X = X.float()
    p_h, p_w = pool_size
    Y = torch.zeros(X.shape[0] - p_h + 1, X.shape[1] - p_w + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            if mode == 'max':
                Y[i, j] = X[i: i + p_h, j: j + p_w].max()
            elif mode == 'avg':
                Y[i, j] = X[i: i + p_h, j: j + p_w].mean()
    return Y
''', "", True),
    ("X = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])\npool2d(X, (2, 2))",
     "tensor([[4., 5.],\n        [7., 8.]])", True),
    ("pool2d(X, (2, 2), 'avg')", "tensor([[2., 3.],\n        [5., 6.]])", True),
    ("X = torch.arange(16, dtype=torch.float).view((1, 1, 4, 4))", "", True),
    ("print(X)", '''tensor([[[[ 0.,  1.,  2.,  3.],
          [ 4.,  5.,  6.,  7.],
          [ 8.,  9., 10., 11.],
          [12., 13., 14., 15.]]]])''', True),
    ("print(pool2d(X.view(-1,4),(2,2)))\npool2d = nn.MaxPool2d(3)\nprint(pool2d(X)) ",
     '''tensor([[ 5.,  6.,  7.],
        [ 9., 10., 11.],
        [13., 14., 15.]])
tensor([[[[10.]]]])''', True),
    ("pool2d = nn.MaxPool2d(3, padding=1, stride=2)\npool2d(X)",
     '''tensor([[[[ 5.,  7.],
          [13., 15.]]]])''', True),
    ("pool2d = nn.MaxPool2d((2, 4), padding=(1, 2), stride=(2, 3))\npool2d(X)",
     '''tensor([[[[ 1.,  3.],
          [ 9., 11.],
          [13., 15.]]]])''', True),
    ("X = torch.cat((X, X + 1), dim=1)\nX", '''tensor([[[[ 0.,  1.,  2.,  3.],
          [ 4.,  5.,  6.,  7.],
          [ 8.,  9., 10., 11.],
          [12., 13., 14., 15.]],

         [[ 1.,  2.,  3.,  4.],
          [ 5.,  6.,  7.,  8.],
          [ 9., 10., 11., 12.],
          [13., 14., 15., 16.]]]])''', True),
    ("pool2d = nn.MaxPool2d(3, padding=1, stride=2)\npool2d(X)", '''tensor([[[[ 5.,  7.],
          [13., 15.]],

         [[ 6.,  8.],
          [14., 16.]]]])''', True),
]

# The notebook's stack cell output (random numbers: compared by structure).
STACK_OUTPUT = '''tensor([[-0.2343,  0.5712, -2.2741, -0.5701],
        [-1.4972,  0.8748, -0.2513,  0.4993],
        [-0.5000, -0.0360,  0.2205,  1.9506]])
tensor([[ 0.3481, -0.6405, -0.3464, -0.6964],
        [-1.4464, -1.1613, -0.2279,  0.9000],
        [-1.1952,  2.0768,  0.3028, -0.3127]])
tensor([[[-0.2343,  0.5712, -2.2741, -0.5701],
         [-1.4972,  0.8748, -0.2513,  0.4993],
         [-0.5000, -0.0360,  0.2205,  1.9506]],

        [[ 0.3481, -0.6405, -0.3464, -0.6964],
         [-1.4464, -1.1613, -0.2279,  0.9000],
         [-1.1952,  2.0768,  0.3028, -0.3127]]])
tensor([[[-0.2343,  0.5712, -2.2741, -0.5701],
         [ 0.3481, -0.6405, -0.3464, -0.6964]],

        [[-1.4972,  0.8748, -0.2513,  0.4993],
         [-1.4464, -1.1613, -0.2279,  0.9000]],

        [[-0.5000, -0.0360,  0.2205,  1.9506],
         [-1.1952,  2.0768,  0.3028, -0.3127]]])
tensor([[[-0.2343,  0.3481],
         [ 0.5712, -0.6405],
         [-2.2741, -0.3464],
         [-0.5701, -0.6964]],

        [[-1.4972, -1.4464],'''


@pytest.fixture
def notebook(monkeypatch):
    from PIL import Image

    shown = []
    monkeypatch.setattr(Image.Image, "show", lambda self, *a, **k: shown.append(self))
    namespace = {}
    run_cell(IMPORTS, namespace)
    assert run_cell(CORR2D, namespace) == ""
    namespace["shown"] = shown
    return namespace


def test_cross_correlation_cell(notebook):
    # The notebook calls the misspelt `cov2d(X,K)`; its output is corr2d's.
    assert run_cell("corr2d(X,K)", notebook).strip() == "tensor([[ 4.,  6.],\n        [10., 12.]])"


def test_edge_detection_cells(notebook):
    run_cell(CONV2D_CLASS, notebook)
    assert run_cell(IMAGE, notebook).strip() == expected("torch.float32")
    run_cell(SHOW, notebook)
    run_cell(EDGE, notebook)
    assert len(notebook["shown"]) == 2
    edges = np.asarray(notebook["shown"][1])
    y = notebook["Y"].numpy()
    assert y.shape == (6, 7)
    # Edges where the image goes white->black (+1) and black->white (-1), nothing else.
    assert np.array_equal(np.nonzero(y[0])[0], [1, 5])
    assert y[0, 1] == 1.0 and y[0, 5] == -1.0
    assert edges.shape == (6, 7) and np.array_equal(np.nonzero(edges[0])[0], [1, 5])


TORCH_TWIN = LEARN.replace("CONV2D = Conv2D(kernel_size=(1, 2))", """CONV2D = Conv2D(kernel_size=(1, 2))
with torch.no_grad():
    CONV2D.weight.copy_(torch.tensor(INITIAL_WEIGHT))
    CONV2D.bias.copy_(torch.tensor(INITIAL_BIAS))""")


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_learning_the_kernel_cell(notebook, seed):
    """The training cell prints the notebook's log structure, and PyTorch's exact log
    when PyTorch starts from the same random weights."""
    run_cell(CONV2D_CLASS + IMAGE, notebook)
    run_cell(f"torch.manual_seed({seed})", notebook)
    printed = run_cell(LEARN, notebook)
    assert skeleton(printed) == skeleton(expected(LEARN_OUTPUT))
    lines = printed.strip().split("\n")
    assert lines[0] == "cnnlab.float32"
    losses = [float(line.split("loss ")[1]) for line in lines[3:9]]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.05
    weight = notebook["CONV2D"].weight.detach().numpy()
    bias = notebook["CONV2D"].bias.detach().numpy()
    np.testing.assert_allclose(weight, [[1.0, -1.0]], atol=0.1)
    np.testing.assert_allclose(bias, [0.0], atol=0.1)

    # The same cell in PyTorch, from the weights cnnlab drew.
    import torch as real_torch

    cnnlab.manual_seed(seed)  # Conv2D.__init__ draws randn((1, 2)) then randn(1)
    initial_weight, initial_bias = cnnlab.randn((1, 2)).numpy(), cnnlab.randn(1).numpy()
    twin = {"torch": real_torch, "nn": real_torch.nn, "INITIAL_WEIGHT": initial_weight,
            "INITIAL_BIAS": initial_bias}
    run_cell(CORR2D + CONV2D_CLASS + IMAGE, twin)
    reference = run_cell(TORCH_TWIN, twin)
    assert printed == reference.replace("torch.", "cnnlab.")


def test_remaining_cells_in_order(notebook):
    run_cell(CONV2D_CLASS + IMAGE, notebook)
    for code, output, exact in CELLS:
        printed = run_cell(code, notebook).strip("\n")
        if output is None:
            assert skeleton(printed).startswith(skeleton(STACK_OUTPUT))
        elif exact:
            assert printed == expected(output), code
