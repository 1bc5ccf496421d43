"""Drop-in flow policies for other RL frameworks: rsl_rl (Isaac Lab, mjlab), Stable-Baselines3
and skrl. Each adapter wraps the same ``nfpo.policies.FlowPolicy`` module (conditioned on the
framework's actor features) and is imported only when used: the core package needs none of
these frameworks."""
