"""Small network builders shared by policies, critics and flow conditioners."""

from __future__ import annotations

import math

from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}


class MLP(nn.Sequential):
    """``nn.Sequential`` whose forward calls each layer's ``forward`` directly, skipping the
    per-module hook dispatch of ``Module.__call__`` (no hooks are registered on these layers).
    Same parameters, state-dict keys and arithmetic; a 2x64 forward of one row took 69 us
    against 106 us on a loaded machine, which end to end is within the noise
    (benchmarks/peers/README.md)."""

    def forward(self, x: Tensor) -> Tensor:
        for layer in self:
            x = layer.forward(x)
        return x


def mlp(sizes: list[int], activation: type[nn.Module] = nn.Tanh,
        layernorm: bool = False) -> nn.Sequential:
    """Fully connected net ``sizes[0] -> ... -> sizes[-1]``, ``activation`` between layers
    (preceded by LayerNorm on hidden layers if ``layernorm``)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            if layernorm:
                layers.append(nn.LayerNorm(sizes[i + 1]))
            layers.append(activation())
    return MLP(*layers)


def orthogonal_init(net: nn.Sequential, out_gain: float) -> nn.Sequential:
    """CleanRL's init: orthogonal weights (gain sqrt(2) hidden, ``out_gain`` last), zero biases.

    ``out_gain == 0`` zeroes the last layer (identity-at-init flows)."""
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        gain = out_gain if i == len(linears) - 1 else math.sqrt(2.0)
        if gain == 0.0:
            nn.init.zeros_(layer.weight)
        else:
            nn.init.orthogonal_(layer.weight, gain)
        nn.init.zeros_(layer.bias)
    return net
