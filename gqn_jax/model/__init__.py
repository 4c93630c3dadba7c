"""The GQN model: `gqn.GQN` built from a `config.GQNConfig`, and the networks it is made of.

Nothing here reads files or configs; everything above (training, trained) imports it.
"""
