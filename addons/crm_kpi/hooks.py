from .demo import history


def post_init_hook(env):
    """With demo data: give the demo customers a past (history, snapshots,
    pipeline paths, cohorts) so every report tells a story on day one."""
    if env.ref("base.module_crm_kpi").demo:
        history.load(env)
