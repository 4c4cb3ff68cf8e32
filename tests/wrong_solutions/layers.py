"""Wrong solutions of 6.1-6.4 (activations, dropout), 7.1 (UNetUp) and 8.1 (receptive field)."""
import numpy as np

import nn.functional as F
from nn.ops.activations import DropoutFunction, LeakyReLUFunction, SigmoidFunction, TanhFunction
from pix2pix.models.unet import UNetUp


class LeakyBackwardSlopeOne(LeakyReLUFunction):
    """Backward passes the gradient through unchanged (slope 1 everywhere)."""
    @staticmethod
    def backward(ctx, grad):
        return grad


class LeakyBackwardMaskInverted(LeakyReLUFunction):
    """The slope applied where x > 0 instead of where x <= 0."""
    @staticmethod
    def backward(ctx, grad):
        (positive,) = ctx.saved
        return grad * np.where(positive, ctx.slope, 1.0).astype(grad.dtype)


class LeakyForgetsTheSlope(LeakyReLUFunction):
    """A plain ReLU forward and backward: the slope argument ignored."""
    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        return LeakyReLUFunction.forward(ctx, x, 0.0)


class DropoutNotRescaled(DropoutFunction):
    """Zeros elements but does not scale the kept ones by 1 / (1 - p)."""
    @staticmethod
    def forward(ctx, x, p=0.5, generator=None):
        return DropoutFunction.forward(ctx, x, p, generator) * x.dtype.type(1 - p)


class DropoutPIsKeep(DropoutFunction):
    """Reads p as the probability of keeping (cs231n's convention)."""
    @staticmethod
    def forward(ctx, x, p=0.5, generator=None):
        return DropoutFunction.forward(ctx, x, 1 - p if p > 0 else p, generator)


class DropoutFreshMaskInBackward(DropoutFunction):
    """Draws a new mask in backward instead of reusing the forward's."""
    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved
        return grad * np.random.default_rng(123).permutation(mask.reshape(-1)).reshape(mask.shape)


class DropoutSeedZeroWithoutGenerator(DropoutFunction):
    """generator=None becomes default_rng(0): the same "random" mask on every call."""
    @staticmethod
    def forward(ctx, x, p=0.5, generator=None):
        return DropoutFunction.forward(ctx, x, p, np.random.default_rng(0) if generator is None
                               else generator)


class TanhBackwardNotSquared(TanhFunction):
    """d tanh / dx = 1 - y instead of 1 - y^2."""
    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * (1 - out)


class SigmoidNaive(SigmoidFunction):
    """1 / (1 + exp(-x)): overflows (and warns) for x = -1000."""
    @staticmethod
    def forward(ctx, x):
        out = 1 / (1 + np.exp(-x))
        ctx.save_for_backward(out)
        return out


class SigmoidBackwardWithoutOneMinus(SigmoidFunction):
    """d sigmoid / dx = y instead of y (1 - y)."""
    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved
        return grad * out


class TanhFromSigmoidOffByTwo(TanhFunction):
    """tanh(x) written as 2 sigmoid(x) - 1 (it is 2 sigmoid(2x) - 1)."""
    @staticmethod
    def forward(ctx, x):
        out = 2 / (1 + np.exp(-x)) - 1
        ctx.save_for_backward(out)
        return out


class TanhByDefinition(TanhFunction):
    """(e^x - e^-x) / (e^x + e^-x): exp(1000) overflows and inf / inf is NaN."""
    @staticmethod
    def forward(ctx, x):
        out = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))
        ctx.save_for_backward(out)
        return out


class SigmoidDerivativeOfTheInput(SigmoidFunction):
    """d sigmoid / dx written as x (1 - x) with the input x, not the output y."""
    @staticmethod
    def forward(ctx, x):
        out = SigmoidFunction.forward(ctx, x)
        ctx.save_for_backward(x)
        return out


class UNetUpSkipLast(UNetUp):
    """Concatenates the skip after the up-path instead of before."""
    def forward(self, x, skip=None):
        y = UNetUp.forward(self, x, None)
        return F.cat([y, skip], dim=1) if skip is not None else y


class UNetUpLeakyReLU(UNetUp):
    """A leaky ReLU (the encoder's) before the conv instead of the decoder's plain ReLU."""
    def forward(self, x, skip=None):
        x = self.conv(F.leaky_relu(x, 0.2))
        if self.norm is not None:
            x = self.norm(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return F.cat([skip, x], dim=1) if skip is not None else x


class UNetUpReLUAfterTheConv(UNetUp):
    """ReLU after the transposed conv and norm, not before the conv."""
    def forward(self, x, skip=None):
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.dropout is not None:
            x = self.dropout(x)
        x = F.relu(x)
        return F.cat([skip, x], dim=1) if skip is not None else x


class UNetUpDropoutAfterTheConcat(UNetUp):
    """Dropout applied to the concatenation, skip channels included, not to the up-path."""
    def forward(self, x, skip=None):
        x = self.conv(F.relu(x))
        if self.norm is not None:
            x = self.norm(x)
        x = F.cat([skip, x], dim=1) if skip is not None else x
        return self.dropout(x) if self.dropout is not None else x


class UNetUpBatchNormForEveryKind(UNetUp):
    """Builds a BatchNorm (and no conv bias) whatever ``kind`` asks for, "none" aside."""
    def __init__(self, in_channels, out_channels, kind="batch", dropout=False, bias=None,
                 generator=None):
        UNetUp.__init__(self, in_channels, out_channels, "batch" if kind != "none" else kind,
                        dropout, bias, generator)


def receptive_field_off_by_one(layers):
    """(r - 1) * s + k - 1 per layer."""
    field = 1
    for k, s in reversed(list(layers)):
        field = (field - 1) * s + k - 1
    return max(field, 1)


def receptive_field_forward_order(layers):
    """Walks the layers first to last instead of last to first."""
    field = 1
    for k, s in layers:
        field = (field - 1) * s + k
    return field


def receptive_field_ignores_stride(layers):
    """Adds k - 1 per layer, as if every stride were 1."""
    return 1 + sum(k - 1 for k, _ in layers)


WRONG = {
    "6.1": [LeakyBackwardSlopeOne, LeakyBackwardMaskInverted, LeakyForgetsTheSlope],
    "6.2": [DropoutNotRescaled, DropoutPIsKeep, DropoutFreshMaskInBackward,
            DropoutSeedZeroWithoutGenerator],
    "6.3": [TanhBackwardNotSquared, TanhFromSigmoidOffByTwo, TanhByDefinition],
    "6.4": [SigmoidNaive, SigmoidBackwardWithoutOneMinus, SigmoidDerivativeOfTheInput],
    "7.1": [UNetUpSkipLast, UNetUpLeakyReLU, UNetUpReLUAfterTheConv,
            UNetUpDropoutAfterTheConcat, UNetUpBatchNormForEveryKind],
    "8.1": [receptive_field_off_by_one, receptive_field_forward_order,
            receptive_field_ignores_stride],
}
