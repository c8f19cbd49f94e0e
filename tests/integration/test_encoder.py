"""The shared encoder with the real all-MiniLM-L6-v2 weights: the memoised single-text path
gives the same vectors as the batch path, also when many threads ask for one text at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from skills.encoder import embed


def test_single_text_matches_the_batch_path_and_concurrent_askers_agree() -> None:
    texts = ["Where is my new card?", "How do I reset my passcode?"]
    batch = embed([*texts, "padding so the batch path is taken"])[:2]
    with ThreadPoolExecutor(max_workers=8) as pool:
        singles = list(pool.map(lambda i: embed([texts[i % 2]])[0], range(16)))
    for i, vector in enumerate(singles):
        assert vector.shape == (384,)
        assert np.allclose(vector, batch[i % 2], atol=1e-4)
    singles[0][:] = 0.0  # a caller mutating its copy must not poison the memo
    assert np.allclose(embed([texts[0]])[0], batch[0], atol=1e-4)
    assert not np.allclose(batch[0], batch[1], atol=1e-2)
