"""RMSNorm with a `norm_divisor`: sum(x^2) / norm_divisor instead of mean(x^2)."""

from __future__ import annotations

import torch


class DivisorRMSNormMixin:
    """Mixed into each family's RMSNorm subclass, so weight init and kernels still see that family's norm.

    When the divisor equals the width of the input, `mean` is used exactly as upstream does, so an
    ungrown model is bit-identical to stock. Otherwise the sum is divided by the frozen divisor; new
    hidden dimensions that are zero add nothing to the sum, which is what makes width growth exact.
    """

    weight: torch.nn.Parameter
    variance_epsilon: float
    norm_divisor: float | None

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        squares = hidden_states.pow(2)
        if self.norm_divisor is None or self.norm_divisor == hidden_states.shape[-1]:
            variance = squares.mean(-1, keepdim=True)
        else:
            variance = squares.sum(-1, keepdim=True) / self.norm_divisor
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)

    def extra_repr(self) -> str:
        return f"{tuple(self.weight.shape)}, eps={self.variance_epsilon}, norm_divisor={self.norm_divisor}"


def replace_norm(old: torch.nn.Module, norm_cls: type[torch.nn.Module], divisor: float | None) -> torch.nn.Module:
    """A `norm_cls` that shares `old`'s weight parameter (no new allocation, works on meta)."""
    new = norm_cls.__new__(norm_cls)
    torch.nn.Module.__init__(new)
    new.weight = old.weight
    new.variance_epsilon = old.variance_epsilon
    new.norm_divisor = divisor
    return new
