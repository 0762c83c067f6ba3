def post_init_hook(env):
    """The point of sale orders of the past count from now on: recompute the
    customers' figures at once (see
    ``crm.retention.model._recompute_for_new_source``)."""
    env["crm.retention.model"]._recompute_for_new_source()
