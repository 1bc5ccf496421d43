"""State-value critic V(s): an MLP ``[B, O] -> [B]``, separate from the actor."""

from __future__ import annotations

from torch import Tensor, nn

from nfpo.nets import mlp, orthogonal_init


class Critic(nn.Module):
    def __init__(self, obs_dim: int, hidden: tuple[int, ...] = (64, 64),
                 activation: type[nn.Module] = nn.Tanh) -> None:
        super().__init__()
        self.net = orthogonal_init(mlp([obs_dim, *hidden, 1], activation), 1.0)

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs).squeeze(-1)
