"""HearMe tibetan: the Tibetan paper's pipeline (text core, n-gram LM filter, IFD, translation,
multi-turn rewriting, self-instruct expansion, statistics). Submodules import their heavy
dependencies lazily; `demo_leg` is the entry point `hearme demo` calls."""


def demo_leg(out_dir, tiny_model_path=None, dataset_dir=None, **kw):
    """See hearme.tibetan.demo.demo_leg."""
    from hearme.tibetan.demo import demo_leg as run

    return run(out_dir, tiny_model_path, dataset_dir, **kw)
