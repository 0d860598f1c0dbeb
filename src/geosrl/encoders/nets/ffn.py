"""TorchSpatial's residual feed-forward network (``MultiLayerFeedForwardNN``)."""

from __future__ import annotations

import torch
from torch import nn

from ...checks import check_choice, check_count, check_dropout, check_flag

_ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leakyrelu": lambda: nn.LeakyReLU(0.2),
    "sigmoid": lambda: nn.Sigmoid(),
    "tanh": lambda: nn.Tanh(),
    "gelu": lambda: nn.GELU(),
}


def make_activation(name: str) -> nn.Module:
    return _ACTIVATIONS[check_choice("activation", name, sorted(_ACTIVATIONS))]()


class FFNBlock(nn.Module):
    """Linear → activation → dropout → (+ input when widths match and ``skip``) → optional LayerNorm."""

    def __init__(self, in_dim: int, out_dim: int, activation: str, dropout: float, layer_norm: bool, skip: bool):
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        nn.init.xavier_uniform_(self.linear.weight)
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(dropout)
        self.skip = skip and in_dim == out_dim
        self.layer_norm = nn.LayerNorm(out_dim) if layer_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dropout(self.activation(self.linear(x)))
        if self.skip:
            y = y + x
        return self.layer_norm(y) if self.layer_norm is not None else y


class FFN(nn.Module):
    """h hidden blocks (LayerNorm + skip) then an output block with activation and dropout, no LN/skip.

    ``(..., in_dim)`` → ``(..., out_dim)``. ``num_hidden_layers=0`` gives a single output block.
    Defaults follow TorchSpatial: hidden 512, LeakyReLU(0.2), dropout 0.5, LayerNorm and skip on.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_hidden_layers: int = 1,
        hidden_dim: int = 512,
        activation: str = "leakyrelu",
        dropout: float = 0.5,
        layer_norm: bool = True,
        skip: bool = True,
    ) -> None:
        super().__init__()
        in_dim, out_dim = check_count("in_dim", in_dim), check_count("out_dim", out_dim)
        num_hidden_layers = check_count("num_hidden_layers", num_hidden_layers, minimum=0)
        hidden_dim = check_count("hidden_dim", hidden_dim)
        check_choice("activation", activation, sorted(_ACTIVATIONS))
        dropout = check_dropout("dropout", dropout)
        layer_norm, skip = check_flag("layer_norm", layer_norm), check_flag("skip", skip)
        blocks = []
        width = in_dim
        for _ in range(num_hidden_layers):
            blocks.append(FFNBlock(width, hidden_dim, activation, dropout, layer_norm, skip))
            width = hidden_dim
        blocks.append(FFNBlock(width, out_dim, activation, dropout, layer_norm=False, skip=False))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)
