"""A mixture of conditional flows: pi(u|s) = sum_g W_g pi_g(u|s).

The M lumps of a ``GaussianMixture`` base q(z) = sum_k w_k N(z; mu_k, s^2 I) are split into G
groups of neighbours (``group_lumps``: k-means on their initial means); group g has its own
coupling stack f_g and pushes its own lumps:

    k ~ w,  g = group(k),  z = mu_k + s eps,  u = f_g(z; h(s))
    log pi(u|s) = logsumexp_g [ log q_g(f_g^{-1}(u)) + log|det d f_g^{-1}/du| ]
    q_g(z)      = sum_{k in g} w_k N(z; mu_k, s^2 I)        (so W_g = sum_{k in g} w_k)

The marginal takes one inverse pass per group (G x a single flow's cost). With held
components (``--flow-base-mixture-hold``: k, so g, drawn at an episode's start and kept) the
group is part of the agent's state and PPO scores a step by its group's own density,

    log pi_g(u|s) = log q_g(f_g^{-1}(u)) - log W_g + log|det d f_g^{-1}/du|,

one pass per sample; sampling is one forward pass of the sample's own stack. The deterministic
action is the push of the base's center lump k* through its group's stack.

Why: with one flow shared by every lump, a step from lump k moves the shared map, and the
expected gradient of log pi over lump k's own samples is not zero, so a group of episodes that
the shared critic rates below the others pulls the whole map toward the others' actions
(docs/multimodal.md, ForkReach). Under pi_g, a step's gradient reaches f_g only, and
E_{u ~ pi_g}[grad log pi_g(u|s)] = 0: an advantage offset shared by a group's episodes (the
critic V(s) does not see g) has no expected effect on it, and with fixed weights the shares
W_g cannot move. Each group improves from the comparison *within* its own episodes. (The
marginal does not isolate the groups: neighbouring lumps of two groups overlap, and a group's
samples give its neighbours ~40% of its own gradient norm at the start, tests/test_flow_mixture.)
The trajectory's probability is W_g prod_t pi_g(a_t|s_t) with W_g fixed during an update, so
the per-step ratio pi_g / pi_g_old is PPO's ratio for the agent that holds g. The weights are
equal, or (``flow_groups_temperature``) set between updates from the groups' returns
(``set_group_weights``, ``nfpo.algo.group_weights``); pi_g does not depend on them.

``shared`` (``--flow-groups-shared``): one stack f for every group, whose conditioners read
the group's one-hot e_g next to h(s), u = f(z; [h(s), e_g]); the formulas above hold with
f_g = f(.; [., e_g]). A group's samples then move the shared weights (what it learns about the
task reaches every group) and its own code's input column, never another group's; everything
is one pass over the batch (training at G = 4: 0.49x a single flow's steps/s, against 0.33x
for G stacks; benchmarks/multimodal/groups_cost.json).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from nfpo.flows import FlowSequence, GaussianMixture
from nfpo.flows.distributions import farthest_points
from nfpo.policies.flow import FlowPolicy, coupling_stack

Part = tuple[Tensor, Tensor | slice, Tensor, Tensor | slice]  # dst[i] <- src[j]


def group_lumps(means: Tensor, groups: int, iters: int = 20) -> Tensor:
    """Group index ``[M]`` (long) of each of M points ``[M, D]``: balanced k-means (each
    group holds floor or ceil of M/G points, so the groups' shares W_g are as equal as fixed
    uniform weights allow), started from farthest-point picks (point 0 first); neighbouring
    lumps share a group. Deterministic."""
    x = means.detach().double()
    m = len(x)
    centres = x[farthest_points(x, groups)].clone()
    cap = [m // groups + (g < m % groups) for g in range(groups)]
    assign = torch.full((m,), -1, dtype=torch.long)
    for _ in range(iters):
        # greedy balanced assignment: closest (point, centre) pairs first, within capacity
        dist = torch.cdist(x, centres)
        new = torch.full((m,), -1, dtype=torch.long)
        room = list(cap)
        for flat in torch.argsort(dist.ravel(), stable=True).tolist():
            i, g = divmod(flat, groups)
            if new[i] < 0 and room[g] > 0:
                new[i], room[g] = g, room[g] - 1
        if torch.equal(new, assign):
            break
        assign = new
        centres = torch.stack([x[assign == g].mean(0) for g in range(groups)])
    return assign


class FlowMixturePolicy(FlowPolicy):
    """``FlowPolicy`` with ``groups`` coupling stacks over one mixture base (module
    docstring). ``self.flow`` is group 0's stack, ``self.group_flows`` the others' (with
    ``shared``: ``self.flow`` is every group's stack, read with the group's one-hot, and
    ``group_flows`` is empty); ``group_of`` ``[M]`` maps each lump to its group."""

    def __init__(self, obs_dim: int, act_dim: int, groups: int, shared: bool = False,
                 **kwargs) -> None:
        super().__init__(obs_dim, act_dim, **kwargs)
        if not isinstance(self.base_dist, GaussianMixture):
            raise ValueError("a mixture of flows needs a mixture base (flow_base_mixture >= 2)")
        if groups < 2 or groups > len(self.base_dist.means):
            raise ValueError(f"groups={groups!r}: accepted values are 2 to the number of "
                             f"lumps ({len(self.base_dist.means)})")
        if self.base_log_std is not None:
            raise ValueError("a mixture of flows takes no base scale (flow_base_scale)")
        self.num_groups, self.shared = groups, shared
        if shared:  # one stack; its context is [h(s), one_hot(g)]
            act, ctx, *rest = self._stack_args
            self._stack_args = (act, ctx + groups, *rest)
            self.flow = coupling_stack(*self._stack_args)
        self.group_flows = nn.ModuleList(coupling_stack(*self._stack_args)
                                         for _ in range(0 if shared else groups - 1))
        self.register_buffer("group_of", group_lumps(self.base_dist.means, groups))

    @property
    def stacks(self) -> list[FlowSequence]:
        """The coupling stacks, group 0 first (one, read by every group, when shared)."""
        return [self.flow, *self.group_flows]

    def _context(self, h: Tensor, group: Tensor) -> Tensor:
        """The conditioners' context of rows in ``group`` ``[B]``: h ``[B, C]``, or with a
        shared stack [h, one_hot(g)] ``[B, C + G]``."""
        if not self.shared:
            return h
        return torch.cat([h, nn.functional.one_hot(group, self.num_groups).to(h.dtype)], 1)

    def group_code(self) -> Tensor | None:
        """The one-hot ``[G]`` of the deterministic push's group a shared stack reads after
        h(s) (None for one stack per group): ``nfpo.export`` appends it to h."""
        if not self.shared:
            return None
        g = self.group_of[self.base_dist.center_index()]
        return nn.functional.one_hot(g, self.num_groups).to(self.base_dist.means.dtype)

    def _group_log_q(self, z: Tensor, group: Tensor) -> Tensor:
        """log q_g(z) - log W_g for each row's group ``group`` ``[B]``: the base density of
        its group's lumps, renormalized ``[B]``."""
        base: GaussianMixture = self.base_dist  # type: ignore[assignment]
        lp, lw = base.component_log_probs(z), base.log_weights()
        out = z.new_empty(len(z))
        for i in group.unique().tolist():
            rows, inside = group == i, self.group_of == i
            out[rows] = torch.logsumexp(lp[rows][:, inside], 1) - torch.logsumexp(lw[inside], 0)
        return out

    def _per_group(self, fn: Callable[..., Tensor], *rows_of: Tensor, group: Tensor) -> Tensor:
        """``fn(stack, *tensors[rows], group[rows])`` for each group's rows, gathered back
        ``[B, ...]``; one call on every row with a shared stack."""
        if self.shared:
            return fn(self.flow, *rows_of, group)
        out = None
        for i, stack in enumerate(self.stacks):
            rows = group == i
            if rows.any():
                val = fn(stack, *(t[rows] for t in rows_of), group[rows])
                if out is None:
                    out = val.new_zeros((len(group), *val.shape[1:]))
                out[rows] = val
        return out

    def rsample_raw(self, obs: Tensor, z: Tensor | None = None,
                    component: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Sample; log pi is the group's own log pi_g(u|s) when ``component`` is given (held
        components: the module docstring), else the marginal."""
        if z is not None:
            raise ValueError("given base noise z needs the standard-normal base "
                             "(flow_base_mixture=0)")
        base: GaussianMixture = self.base_dist  # type: ignore[assignment]
        k = component.to(obs.device) if component is not None else \
            base.draw_components(obs.shape[0], obs.device)
        z, h, g = base.sample(obs.shape[0], obs, k), self.encoder(obs), self.group_of[k]

        def push(stack: FlowSequence, z: Tensor, h: Tensor, g: Tensor) -> Tensor:
            u, logdet = stack(z, self._context(h, g))
            return torch.cat([u, (self._group_log_q(z, g) - logdet)[:, None]], 1)
        out = self._per_group(push, z, h, group=g)
        u = out[:, :-1]
        return u, (out[:, -1] if component is not None else self.log_prob_raw(obs, u))

    def log_prob_raw(self, obs: Tensor, u: Tensor, component: Tensor | None = None
                     ) -> Tensor:
        """The marginal log pi(u|s) (one inverse pass per group), or with held ``component``
        ``[B]`` the group's own log pi_g(u|s) (one pass per sample)."""
        h = self.encoder(obs)
        if component is not None:
            def score(stack: FlowSequence, u: Tensor, h: Tensor, g: Tensor) -> Tensor:
                z, logdet = stack.inverse(u, self._context(h, g))
                return self._group_log_q(z, g) + logdet
            return self._per_group(score, u, h, group=self.group_of[component.to(u.device)])
        base: GaussianMixture = self.base_dist  # type: ignore[assignment]
        per_group = []
        for i in range(self.num_groups):
            g = torch.full((len(u),), i, dtype=torch.long, device=u.device)
            z, logdet = self._stack(i).inverse(u, self._context(h, g))
            outside = (self.group_of != i).to(z.dtype) * -1e30  # [M]: other groups' lumps
            per_group.append(torch.logsumexp(base.component_log_probs(z) + outside, 1) + logdet)
        return torch.logsumexp(torch.stack(per_group, 1), 1)

    def group_weights(self) -> Tensor:
        """W_g = sum of the weights of group g's lumps ``[G]`` (no gradient)."""
        w = self.base_dist.probs().cpu()
        return w.new_zeros(self.num_groups).index_add_(0, self.group_of.cpu(), w)

    def set_group_weights(self, weights: Tensor) -> None:
        """Set W ``[G]`` (needs a base built with a prior, ``flow_groups_temperature``): lump
        k's prior log-weight becomes log W_g(k) - log |g(k)|, uniform within its group, so
        each group's own density pi_g is unchanged."""
        base: GaussianMixture = self.base_dist  # type: ignore[assignment]
        counts = torch.bincount(self.group_of, minlength=self.num_groups).double()
        base.set_prior((weights.to(counts).log() - counts.log())[self.group_of])

    def group_parts(self, dst: int, src: int) -> list[Part]:
        """What makes group ``dst`` a copy of group ``src``: (dst parameter, its index, src
        parameter, its index) for ``nfpo.algo.group_restart``: every weight of src's stack
        into dst's, and src's lumps' means into dst's lumps (cyclically when the groups hold
        different counts), so pi_dst(.|s) = pi_src(.|s) after the copy. The base's shared
        scale and a shared encoder are not touched. Separate stacks only."""
        lumps = self._lump_parts(dst, src)
        every = slice(None)
        return [(d, every, s, every) for d, s in zip(
            self._stack(dst).parameters(), self._stack(src).parameters(), strict=True)
                ] + lumps

    def _lump_parts(self, dst: int, src: int) -> list[Part]:
        """src's lumps' means into dst's lumps (cyclically when the counts differ); refused
        with a shared stack, where a group is its code, not a stack of its own."""
        if self.shared:
            raise ValueError("restarting or merging a group moves it between stacks: not with "
                             "a shared stack (flow_groups_shared)")
        rows_d, rows_s = ((self.group_of == g).nonzero().ravel() for g in (dst, src))
        cyclic = rows_s[torch.arange(len(rows_d), device=rows_s.device) % len(rows_s)]
        return [(self.base_dist.means, rows_d, self.base_dist.means, cyclic)]

    def merge_group(self, dst: int, src: int) -> list[Part]:
        """Group ``dst`` joins group ``src``: its lumps become group src's (pushed by src's
        stack, ``group_of`` updated) after taking the means of src's lumps, which the
        returned parts copy (``nfpo.algo.group_restart.copy_parts``, before any sampling).
        dst's stack then gets no samples. Separate stacks only."""
        parts = self._lump_parts(dst, src)
        self.group_of[self.group_of == dst] = src
        return parts

    def critic_conditions(self) -> int:
        """A conditioned critic (``flow_base_mixture_condition``) reads the group: G."""
        return self.num_groups

    def critic_condition(self, component: Tensor) -> Tensor:
        return self.group_of[component]

    def _stack(self, group: int) -> FlowSequence:
        """The coupling stack of group ``group`` (the one stack when shared)."""
        return self.flow if self.shared else self.stacks[group]

    def push_flow(self) -> FlowSequence:
        """The stack of the base's center lump k* (the deterministic action's)."""
        return self._stack(int(self.group_of[self.base_dist.center_index()]))

    def push(self, obs: Tensor, z: Tensor) -> Tensor:
        g = self.group_of[self.base_dist.center_index()].expand(len(obs))
        return self.push_flow()(self.base_dist.center(z), self._context(self.encoder(obs), g))[0]

    @torch.no_grad()
    def diagnostics(self, obs: Tensor) -> dict[str, float]:
        """log|det J| of each fresh sample's own group's forward pass: mean, min, max."""
        obs = obs.to(self.compute_dtype)
        base: GaussianMixture = self.base_dist  # type: ignore[assignment]
        k = base.draw_components(obs.shape[0], obs.device)
        z, h, g = base.sample(obs.shape[0], obs, k), self.encoder(obs), self.group_of[k]
        logdet = self._per_group(lambda stack, z, h, g: stack(z, self._context(h, g))[1],
                                 z, h, group=g)
        return {"flow/logdet_mean": logdet.mean().item(), "flow/logdet_min": logdet.min().item(),
                "flow/logdet_max": logdet.max().item(), "flow/groups": float(self.num_groups)}
