"""SIREN (sinusoidal representation network), in the variant of SatCLIP / locationencoder."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...checks import check_count, check_dropout, check_positive


class SineLayer(nn.Module):
    """h ↦ sin(w0·(W h + b)), optional dropout on the pre-activation. Init U(±1/d_in) for the first
    layer, U(±√(6/d_in)/w0) otherwise."""

    def __init__(self, in_dim: int, out_dim: int, w0: float, is_first: bool, dropout: float = 0.0):
        super().__init__()
        self.w0 = float(w0)
        self.linear = nn.Linear(in_dim, out_dim)
        bound = 1.0 / in_dim if is_first else math.sqrt(6.0 / in_dim) / self.w0
        nn.init.uniform_(self.linear.weight, -bound, bound)
        nn.init.uniform_(self.linear.bias, -bound, bound)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.linear(x)
        if self.dropout is not None:
            pre = self.dropout(pre)
        return torch.sin(self.w0 * pre)


class Siren(nn.Module):
    """``num_layers`` sine layers (w0 = ``w0_initial`` in layer 1, ``w0`` after) and a linear output layer.

    ``(..., in_dim)`` → ``(..., out_dim)``. Output layer init U(±√(6/d_in)/w0).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden_dim: int = 256,
        num_layers: int = 2,
        w0_initial: float = 30.0,
        w0: float = 1.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        in_dim, out_dim = check_count("in_dim", in_dim), check_count("out_dim", out_dim)
        hidden_dim = check_count("hidden_dim", hidden_dim)
        num_layers = check_count("num_layers", num_layers, minimum=0)
        w0_initial = check_positive("w0_initial", w0_initial)
        w0 = check_positive("w0", w0)
        dropout = check_dropout("dropout", dropout)
        layers = []
        for i in range(num_layers):
            layers.append(SineLayer(in_dim if i == 0 else hidden_dim, hidden_dim,
                                    w0_initial if i == 0 else w0, is_first=i == 0, dropout=dropout))
        self.layers = nn.ModuleList(layers)
        last_in = hidden_dim if num_layers else in_dim
        self.last_layer = nn.Linear(last_in, out_dim)
        bound = math.sqrt(6.0 / last_in) / w0
        nn.init.uniform_(self.last_layer.weight, -bound, bound)
        nn.init.uniform_(self.last_layer.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.last_layer(x)
