import waltero_frames as wf


def test_public_names_importable():
    for name in wf.__all__:
        assert hasattr(wf, name), name
