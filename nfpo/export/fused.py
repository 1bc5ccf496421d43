"""Inference-only rewrite of a coupling flow's ``push`` with the masks folded into weights.

Training keeps masks as multiplications (simple, exact gradients). For deployment the same
function is computed with fewer graph nodes (79 -> ~50 ONNX nodes for 4 layers):

- first conditioner layer: W [h, m*z] = [W_h, W_z diag(m)] [h, z]        (mask folded)
- last layer split into s- and t-heads with the passive rows zeroed, and 1/b folded into the
  s-head:  s = b tanh((W_s x + c_s) / b) = b tanh(W_s' x + c_s')          (no slice, no mask)
- x = z * exp(s) + t                                                      (passive: s = t = 0)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nfpo.flows import AffineCoupling, GaussianMixture
from nfpo.policies import FlowPolicy


class FusedCoupling(nn.Module):
    def __init__(self, layer: AffineCoupling) -> None:
        super().__init__()
        net = layer.net
        dim = layer.mask.numel()
        mask, active = layer.mask, 1.0 - layer.mask
        first, last = net[0], net[-1]
        assert isinstance(first, nn.Linear) and isinstance(last, nn.Linear)
        with torch.no_grad():
            w = first.weight.detach().clone()
            w[:, w.shape[1] - dim:] *= mask  # columns of active coordinates never matter
            dt = w.dtype
            self.first = nn.Linear(w.shape[1], w.shape[0], dtype=dt)
            self.first.weight.copy_(w)
            self.first.bias.copy_(first.bias)
            self.hidden = nn.Sequential(*list(net)[1:-1])
            b = layer.log_scale_bound
            scale = 1.0 / b if b is not None else 1.0
            self.s_head = nn.Linear(last.in_features, dim, dtype=dt)
            self.t_head = nn.Linear(last.in_features, dim, dtype=dt)
            self.s_head.weight.copy_(last.weight[:dim] * active[:, None] * scale)
            self.s_head.bias.copy_(last.bias[:dim] * active * scale)
            self.t_head.weight.copy_(last.weight[dim:] * active[:, None])
            self.t_head.bias.copy_(last.bias[dim:] * active)
        self.bound = b

    def forward(self, z: Tensor, context: Tensor) -> Tensor:
        x = self.hidden(self.first(torch.cat([context, z], dim=-1)))
        s = self.s_head(x)
        if self.bound is not None:
            s = self.bound * torch.tanh(s)
        return z * torch.exp(s) + self.t_head(x)


class _Forward(nn.Module):
    """A coupling layer without a fused rewrite (the spline): its own forward, log-det
    dropped."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, z: Tensor, context: Tensor) -> Tensor:
        return self.layer(z, context)[0]


class FusedFlowPush(nn.Module):
    """``forward(obs, z) == FlowPolicy.push(obs, z)`` for a frozen policy."""

    def __init__(self, policy: FlowPolicy) -> None:
        super().__init__()
        self.encoder = policy.encoder
        self.layers = nn.ModuleList(FusedCoupling(lay) if isinstance(lay, AffineCoupling)
                                    else _Forward(lay) for lay in policy.push_flow().layers)
        sigma = policy.base_log_std.detach().exp() if policy.base_log_std is not None else None
        self.register_buffer("sigma", sigma)
        base = policy.base_dist  # z -> mu_k* + s z for a mixture (GaussianMixture.center)
        mixture = isinstance(base, GaussianMixture)
        self.register_buffer("shift", base.center(torch.zeros(1, policy.act_dim))[0].detach()
                             if mixture else None)
        self.mixture_std = float(base.scale()) if mixture else 1.0
        code = policy.group_code()  # what a shared mixture stack reads after h(s)
        self.register_buffer("group_code", None if code is None else code.detach())

    def forward(self, obs: Tensor, z: Tensor) -> Tensor:
        h = self.encoder(obs)
        if self.group_code is not None:
            h = torch.cat([h, self.group_code.to(h).expand(h.shape[0], -1)], -1)
        if self.shift is not None:
            z = self.shift + self.mixture_std * z
        if self.sigma is not None:
            z = z * self.sigma
        for layer in self.layers:
            z = layer(z, h)
        return z
