"""Exercise 4.1 (lesson 04_transposed_convolution.py): the transposed convolution op.

Grade it with:   python -m pytest --exercise 4.1
The reference is ``nn.ops.conv.ConvTranspose2dFunction``. Use ``xp = get_array_module(x)``
instead of ``np`` so that the same code runs on a GPU.
"""
from nn.backend import get_array_module  # noqa: F401
from nn.ops.im2col import col2im, im2col  # noqa: F401  (yours to use)
from nn.tensor import Function


class ConvTranspose2dFunction(Function):
    """Exercise 4.1. The adjoint of Conv2d with the same weight: forward = matmul + col2im.

    forward(ctx, x, weight, bias=None, stride=1, padding=0):
        x: (N, C_in, H, W), weight: (C_in, C_out, k, k) (PyTorch's layout), bias: (C_out,)
        -> out: (N, C_out, Ho, Wo) with Ho = (H - 1) * stride - 2 * padding + k.
      1. x_rows = x transposed and reshaped to (C_in, N*H*W)
      2. col = weight.reshape(C_in, C_out*k*k).T @ x_rows       -> (C_out*k*k, N*H*W):
         every input pixel's weighted k x k kernel ("stamp")
      3. out = col2im(col.reshape(C_out, k, k, N, H, W), (N, C_out, Ho, Wo), stride, padding)
         adds the overlapping stamps; then add the bias.
      Check: <conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the same w.

    backward(ctx, grad): grad = dL/dout, (N, C_out, Ho, Wo). Return
    (grad_x, grad_weight, grad_bias, None, None). The input gradient is a plain
    convolution of grad with the same weight:
        col = im2col(grad, k, stride, padding).reshape(C_out*k*k, N*H*W)
        grad_x      = weight.reshape(C_in, -1) @ col  -> (C_in, N*H*W) -> (N, C_in, H, W)
        grad_weight = (x_rows @ col.T).reshape(weight.shape)
        grad_bias   = grad.sum(axis=(0, 2, 3))
    ``ctx.needs_input_grad`` (one bool per positional input) lets you skip what is not
    needed; bias may be None.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=1, padding=0):
        raise NotImplementedError("Exercise 4.1")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exercise 4.1")
