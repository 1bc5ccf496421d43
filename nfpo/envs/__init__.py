"""Environment creation. Knows nothing about policies."""

from nfpo.envs.make import EnvSpec, env_spec, make_env, make_vec_env

__all__ = ["EnvSpec", "env_spec", "make_env", "make_vec_env"]
