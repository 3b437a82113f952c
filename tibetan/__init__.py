"""HearMe tibetan: the Tibetan paper's pipeline (text core, n-gram LM filter, IFD, translation,
multi-turn rewriting, self-instruct expansion, statistics). Submodules import their heavy
dependencies lazily. The Tibetan leg of `hearme demo` lives with the demo (hearme/demo/tibetan.py)."""
