"""Follow-up questions rewritten by rule into questions retrieval can answer alone."""

from __future__ import annotations

import pytest

from rag.followup import looks_like_followup, question_subject, standalone_question

# (earlier questions as searched, the follow-up as typed, what it is searched as)
CASES = [
    # a comparison with the previous subject
    (["What is L1 regularization?"], "And how does it compare to L2?", "L1 regularization vs L2 regularization"),
    (["What is a CNN?"], "How is it different from an RNN?", "CNN vs RNN"),
    (["What is an epoch?"], "how is that different from a batch?", "epoch vs batch"),
    (["What is batch normalization?"], "Is it better than dropout?", "batch normalization vs dropout"),
    (["What is a GRU?"], "compare it with LSTM", "GRU vs LSTM"),
    (["What is the sigmoid function?"], "what's the difference between it and tanh?", "sigmoid function vs tanh"),
    (["What is Adam?"], "vs SGD?", "Adam vs SGD"),
    (["What is a GRU?"], "and compared to an LSTM?", "GRU vs LSTM"),
    (["What is a GRU?", "What is LSTM?"], "How do they compare?", "GRU vs LSTM"),
    (["What is the difference between L1 and L2 regularization?"], "how do they differ?",
     "What is the difference between L1 and L2 regularization?"),
    # the same question about something else
    (["What is a GRU?"], "and LSTM?", "What is LSTM?"),
    (["How can the vanishing gradient problem be mitigated?"], "What about exploding gradients?",
     "How can exploding gradients be mitigated?"),
    (["How does dropout prevent overfitting?"], "and batch normalization?",
     "How does batch normalization prevent overfitting?"),
    (["What are the advantages of ReLU?"], "what about sigmoid?", "What are the advantages of sigmoid?"),
    (["What is L1 regularization?"], "And L2?", "What is L2 regularization?"),
    (["What is the difference between L1 and L2 regularization?"], "what about dropout?", "What is dropout?"),
    (["How does dropout work?"], "and in CNNs?", "How does dropout work in CNNs?"),
    (["What is dropout?"], "What about its disadvantages?", "What are the disadvantages of dropout?"),
    # pronouns
    (["What is dropout?"], "Why is it used?", "Why is dropout used?"),
    (["What is batch normalization?"], "What are its advantages?", "What are the advantages of batch normalization?"),
    (["What are GANs?"], "How do they work?", "How do GANs work?"),
    (["What is overfitting?"], "How do I prevent this?", "How do I prevent overfitting?"),
    (["What is overfitting?"], "how can that be avoided?", "How can overfitting be avoided?"),
    (["What is the vanishing gradient problem?"], "Does this also happen in RNNs?",
     "Does the vanishing gradient problem also happen in RNNs?"),
    (["What is transfer learning?"], "When should I use it?", "When should I use transfer learning?"),
    (["Explain data augmentation"], "is this technique used for images?", "Is data augmentation used for images?"),
    (["What do you mean by backpropagation?"], "and why is it important?", "Why is backpropagation important?"),
    (["How does a CNN process images?"], "What are its layers?", "What are the layers of CNN?"),
    (["What is the difference between a GRU and an LSTM?"], "which of them is faster, the former?",
     "Which of GRU and LSTM is faster, GRU?"),
    # standalone questions are left as typed
    (["What is dropout?"], "What is a GRU?", "What is a GRU?"),
    (["What is dropout?"], "And what is a GRU?", "What is a GRU?"),
    (["What is dropout?"], "What is the layer that normalizes the inputs?", "What is the layer that normalizes the inputs?"),
    ([], "How does it work?", "How does it work?"),
]


@pytest.mark.parametrize(("history", "followup", "expected"), CASES, ids=[c[1] for c in CASES])
def test_followup_rewrite(history, followup, expected):
    assert standalone_question(followup, history) == expected


@pytest.mark.parametrize(("question", "subject"), [
    ("What is dropout?", "dropout"),
    ("What is a GRU?", "a GRU"),
    ("How can the vanishing gradient problem be mitigated?", "the vanishing gradient problem"),
    ("How does dropout prevent overfitting?", "dropout"),
    ("Why are activation functions needed?", "activation functions"),
    ("How is a fully connected layer used?", "a fully connected layer"),
    ("What are the advantages of ReLU?", "ReLU"),
    ("Explain data augmentation.", "data augmentation"),
    ("What is dropout and why is it used?", "dropout"),
])
def test_question_subject(question, subject):
    found = question_subject(question)
    assert found is not None and found[1] == subject
    assert "".join(found) == question.rstrip("?.")


def test_no_subject_found():
    assert question_subject("Why?") is None


def test_a_followup_with_nothing_to_resolve_carries_the_previous_question():
    assert standalone_question("and why?", ["Why?"]) == "Why? and why?"


@pytest.mark.parametrize(("question", "leans"), [
    ("and L2?", True), ("Why is it used?", True), ("What about GANs?", True), ("What is a GRU?", False),
])
def test_looks_like_followup(question, leans):
    assert looks_like_followup(question) is leans


def test_rewrites_retrieve_both_subjects(pipeline):
    """A comparison follow-up finds passages about both things compared."""
    query = standalone_question("And how does it compare to L2?", ["What is L1 regularization?"])
    titles = " ".join(h.passage.title or "" for h in pipeline.search(query).hits)
    assert "L1" in titles and "L2" in titles
    query = standalone_question("How do they work?", ["What are GANs?"])
    assert any("GAN" in (h.passage.title or "") for h in pipeline.search(query).hits[:3])
