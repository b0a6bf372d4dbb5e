import math

import torch

from recipelab.trainers import recall_at_k, retrieval_metrics, zero_shot_accuracy


def test_perfect_matrix():
    m = retrieval_metrics(torch.eye(10))
    assert m["mean_recall"] == 1.0 and m["i2t_r@1"] == 1.0 and m["t2i_r@5"] == 1.0


def test_reversed_matrix():
    # candidate n-1-i scores best for query i: the right one is ranked last
    n = 10
    sim = torch.eye(n).flip(1) * 1.0 - torch.eye(n) * 0.5  # right answer strictly lowest
    r = recall_at_k(sim, ks=(1, 5, 10))
    assert r[1] == 0.0 and r[5] == 0.0 and r[10] == 1.0


def test_known_ranks_and_pessimistic_ties():
    sim = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.5, 0.1], [0.3, 0.3, 0.3]])
    # row 0: rank 0; row 1: rank 1 (0.8 > 0.5); row 2: tie with everything -> rank 2
    r = recall_at_k(sim, ks=(1, 2, 3))
    assert math.isclose(r[1], 1 / 3) and math.isclose(r[2], 2 / 3) and r[3] == 1.0
    assert recall_at_k(torch.ones(5, 5), ks=(1,))[1] == 0.0  # collapsed model scores 0


def test_groups_make_duplicate_captions_positives():
    sim = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # rows 0, 1 share a caption
    assert recall_at_k(sim, ks=(1,))[1] == 1 / 3
    assert recall_at_k(sim, ks=(1,), groups=torch.tensor([0, 0, 1]))[1] == 1.0


def test_zero_shot_accuracy():
    img = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    cls = torch.eye(2)
    assert zero_shot_accuracy(img, cls, torch.tensor([0, 1, 1])) == 2 / 3
