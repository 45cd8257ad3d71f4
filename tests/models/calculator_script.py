"""A scripted model for the server and llama.cpp backend tests (imported by both, no fixtures)."""


def scripted(script: str, so_far: str) -> str:
    """What a model that always answers ``script`` writes after ``so_far``: where ``so_far`` holds the
    calculator's value instead of the model's own, the model goes on with its text after it."""
    parts = script.split("`")  # even: the model's text; odd: the values it writes in its calls
    k = 0
    for idx, part in enumerate(parts):
        rest = "".join(parts[idx + 1:])
        if idx % 2 == 0:
            m = 0
            while m < len(part) and k < len(so_far):
                assert so_far[k] == part[m], (so_far, script)
                k, m = k + 1, m + 1
            if k == len(so_far):
                return part[m:] + rest
        elif k == len(so_far):
            return part + rest
        else:
            k = so_far.index(">>", k)  # skip whatever value stands there
    return ""
