"""Questions read against the corpus vocabulary: typos, missing terms, parts, rare phrases."""

from __future__ import annotations

import pytest

from rag.query import Vocabulary, is_technical, plan_question, rare_phrases, split_asks, split_parts


@pytest.mark.parametrize("question,parts", [
    ("relu vs sigmoid", ("relu", "sigmoid")),
    ("RMSProp vs. Adagrad?", ("RMSProp", "Adagrad")),
    ("What is the difference between batch normalization and dropout?", ("batch normalization", "dropout")),
    ("diff between batch norm and dropout", ("batch norm", "dropout")),
    ("What is the difference between an epoch, a batch and an iteration?", ("epoch", "batch", "iteration")),
    ("Compare LSTM with GRU", ("LSTM", "GRU")),
    ("How does a GRU differ from an LSTM?", ("GRU", "LSTM")),
    ("What are generators and discriminators?", ("generators", "discriminators")),
    ("What’s the difference between L1 and L2?", ()),  # split after clean_question folds the apostrophe
    ("ReLU vs GELU vs sigmoid", ("ReLU", "GELU", "sigmoid")),
    ("relu or sigmoid", ("relu", "sigmoid")),
    # a comparison beside a clause of its own
    ("sgd or adam - which one should I actually pick for training?", ("sgd", "adam")),
    ("lstm or gru, which one should i pick", ("lstm", "gru")),
    ("in transfer learning: freezing layers vs fine-tuning them", ("freezing layers", "fine-tuning")),
    # a clause of circumstance or a second sentence ends the last part
    ("group norm vs batch norm when my batch size is only 2", ("group norm", "batch norm")),
    ("relu vs gelu if the model is a transformer", ("relu", "gelu")),
    ("Describe the difference between L1 and L2 regularization. When would you use each?",
     ("L1", "L2 regularization")),
    ("Quick question. relu vs gelu?", ("relu", "gelu")),
    ("relu vs. gelu vs. swish", ("relu", "gelu", "swish")),  # "vs." is no sentence end
    ("batch norm vs layer norm? Which is better?", ("batch norm", "layer norm")),
    # ... nor is an abbreviation's or an initial's full stop
    ("approx. inference vs exact inference", ("approx. inference", "exact inference")),
    ("Fig. 3 vs Fig. 4", ("Fig. 3", "Fig. 4")),
    ("U.S. vs U.K. spelling", ("U.S.", "U.K. spelling")),
    ("gpt-3.5 vs gpt-4", ("gpt-3.5", "gpt-4")),
    # ... but a phrase that opens with a preposition is no part
    ("a network that remembers earlier inputs, for text or time series", ()),
    # single-concept questions stay whole
    ("Is dropout used in training or inference?", ()),
    ("What is dropout?", ()),
    ("How can the vanishing gradient problem be mitigated?", ()),
    ("Explain the difference", ()),
    # a second ask about the same thing is no second thing (it was searched alone, and
    # "Answer every part (underfitting; how do you fix)" was put to the model)
    ("What is underfitting and how do you fix it?", ()),
    ("What is the vanishing gradient problem and how can it be mitigated?", ()),
    ("what are word embeddings and how are they learned", ()),
    # ... and a question's own lead is not part of its first thing
    ("What is an epoch vs an iteration vs a batch?", ("epoch", "iteration", "batch")),
    ("What is the trade-off between the learning rate being too high and the model failing to converge at all?", ()),
    # a second ask typed without a comma ends the last part
    ("batch norm vs layer norm which one for transformers", ("batch norm", "layer norm")),
    ("what's the difference between vanishing and exploding gradients and how do you fix each",
     ("vanishing", "exploding gradients")),
    # a fragment that opens with two names (a blind batch's "stride and padding" was answered
    # about stride alone)
    ("stride and padding in conv layers", ("stride", "padding")),
    ("overfitting and underfitting and how to fix them", ("overfitting", "underfitting")),
    ("bagging and boosting which one", ("bagging", "boosting")),
    ("adam and sgd which converges faster", ("adam", "sgd")),
    ("overfitting and underfitting - how do I tell which one my model has?", ("overfitting", "underfitting")),
    # ... but not a second ask, a phrase leaning on the first name, properties, nor
    # examples listed after a comma
    ("overfitting and how to fix it", ()),
    ("ROC curve and area under it", ()),
    ("gradients getting smaller and smaller in the early layers, how do I fix that", ()),
    # ... nor a clause, or a name with context before "and" (a second read's examples)
    ("train loss drops and val loss rises", ()),
    ("my model overfits and I don't know why", ()),
    ("dropout at train and test time", ()),
    ("dropout in CNNs and RNNs", ()),
    ("pros and cons of dropout", ()),
    ("making extra pictures by flipping, rotating and cropping the ones you have", ()),
    ("Explain Adagrad, RMSProp and Adam Optimizer.", ()),
])
def test_split_parts(question, parts):
    assert split_parts(question) == parts


@pytest.mark.parametrize("question,asks", [
    ("What is overfitting and how do you prevent it?", ("What is overfitting", "how do you prevent overfitting")),
    ("What is transfer learning, and when should I use it?",
     ("What is transfer learning", "when should I use transfer learning")),
    ("Explain dropout. How does it work at test time?", ("Explain dropout", "How does dropout work at test time")),
    ("data augmentation - what is it and why does it help",
     ("data augmentation", "what is data augmentation", "why does data augmentation help")),
    # an ask without the subject's name gets it
    ("randomly switching off neurons, what is that and why",
     ("randomly switching off neurons", "what is randomly switching off neurons", "why randomly switching off neurons")),
    # one ask, however long; "and" between names, not asks
    ("What is dropout?", ()),
    ("What are the advantages and disadvantages of ReLU?", ()),
    ("How can the vanishing gradient problem be mitigated?", ()),
    ("what is X and Y", ()),
])
def test_split_asks(question, asks):
    assert split_asks(question) == asks


@pytest.mark.parametrize("question,parts", [
    # a modifier alone gets the head the last part names, where the corpus writes the phrase
    ("batch vs stochastic gradient descent", ("batch gradient descent", "stochastic gradient descent")),
    ("l1 vs l2 regularization", ("l1 regularization", "l2 regularization")),
    ("What is the difference between supervised and unsupervised learning?",
     ("supervised learning", "unsupervised learning")),
    # ... not where it does not ("dropout norm"), nor onto a part with a head of its own
    ("dropout vs batch norm", ("dropout", "batch norm")),
    ("deep learning vs classical machine learning", ("deep learning", "classical machine learning")),
    # ... nor a duplicate of another part, nor context after the last part's noun phrase
    ("gradient vs gradient descent", ("gradient", "gradient descent")),
    ("dropout vs early stopping for neural networks", ("dropout", "early stopping for neural networks")),
    # a part ends where its clause does, and asks nothing
    ("RNN vs CNN, when do you use which?", ("RNN", "CNN")),
    ("quick one - relu vs tanh", ("relu", "tanh")),
    ("transfer learning: freezing layers vs fine-tuning them", ("freezing layers", "fine-tuning")),
    # ... but a comma before another name lists it, and a hyphen after "in" is a word
    ("compare adam with sgd, rmsprop and adagrad", ("adam", "sgd, rmsprop and adagrad")),
    ("in-context learning vs fine-tuning", ("in-context learning", "fine-tuning")),
    ("epoch vs batch vs iteration whats the diffrence", ("epoch", "batch", "iteration")),
])
def test_parts_of_a_planned_question(vocab, question, parts):
    from rag.retrieve import clean_question

    assert plan_question(clean_question(question), vocab).parts == parts


def test_technical_words_are_those_english_does_not_hold_whole():
    for word in ("softmax", "gelu", "xgboost", "bias-variance", "1x1"):
        assert is_technical(word), word
    # comparatives and superlatives of ordinary adjectives are English too ("tinier", "noisiest")
    for word in ("schedule", "variance", "margin", "slides", "capping", "forging", "tinier", "noisiest", "smallest",
                 "reuse", "rerun"):
        assert not is_technical(word), word


@pytest.fixture(scope="module")
def vocab(index):
    return Vocabulary.from_texts([f"{p.title}\n{p.answer}" for p in index.passages if p.kind in ("qa", "intro")])


@pytest.mark.parametrize("question,corrected,missing", [
    ("Whats the diffrence between overfiting and underfiting",
     {"diffrence": "difference", "overfiting": "overfitting", "underfiting": "underfitting"}, ()),
    ("what is a boltzman machine", {"boltzman": "boltzmann"}, ()),
    ("whats a hyperparamter", {"hyperparamter": "hyperparameter"}, ()),
    ("vanishing gradiant", {"gradiant": "gradient"}, ()),
    # an acronym is not a typo of its neighbour, a real word is not a typo either
    ("What is the GELU activation?", {}, ("GELU",)),
    ("What is the softmax function?", {}, ("softmax",)),
    ("Explain the bias-variance tradeoff.", {}, ("bias-variance",)),
    # words asking for a property of a covered subject are not its topic
    ("whats the downside of relu", {}, ()),
    ("adagrad drawbacks", {}, ()),
    ("pitfalls and tradeoffs of dropout", {}, ()),
    ("can you reuse a network trained on imagenet", {}, ()),
    # a prefix before a hyphen, chat shorthand, the initials of a phrase many passages write
    ("why re-center and re-scale the activations", {}, ()),
    ("mini batch gradient descent explain plz", {}, ()),
    ("how many hidden layers shd i use for my nn", {}, ()),
    # ... but initials no passage phrase gives stay unknown, and so do new words made with a
    # prefix and the abbreviations of topics ("ppl": perplexity)
    ("what is kl divergence", {}, ("kl",)),
    ("what is an lm", {}, ("lm",)),
    ("semi-supervised learning", {}, ("semi-supervised",)),
    ("what is ppl in language models", {}, ("ppl",)),
    # abbreviations and British spellings of corpus words are known
    ("what is backprop", {}, ()),
    ("Why normalise the input data?", {}, ()),
    ("What is a GRU?", {}, ()),
    # contractions are grammar, not topics
    ("Why don't we use sigmoid in deep networks?", {}, ()),
    ("Isn't dropout a regularizer?", {}, ()),
    # two corpus words run together, one shortened, are known; "soft" and "max" are never side by side
    ("batchnorm why", {}, ()),
    ("What is the softmax function?", {}, ("softmax",)),
    # ... also typed without the apostrophe (an unseen question: "The sources do not mention “dont”")
    ("capping the size of gradients so they dont explode", {}, ()),
    ("whats a gru and why doesnt it need a cell state", {}, ()),
    # a name written as an acronym or with a capital inside is a term, whatever English word
    # it spells ("rope", "kv"); said with the unknown word beside it (a walkthrough's misses)
    ("How does rotary positional embedding (RoPE) work?", {}, ("RoPE", "rotary positional embedding")),
    ("What is the KV cache in transformer inference?", {}, ("KV cache",)),
    ("How does LoRA fine-tuning work?", {}, ("LoRA",)),
    ("fp16 vs bf16", {}, ("fp16", "bf16")),  # two terms stay two
    ("RoPE in LLMs", {}, ("RoPE", "LLMs")),  # capitals of acronyms are not shouting
    ("Why is GELU smoother than ReLU?", {}, ("GELU",)),  # a comparative describes, it does not name
    # ... but not in a question typed in capitals, nor words in capitals for emphasis,
    # nor corpus acronyms
    ("WHAT IS DROPOUT", {}, ()),
    ("explain dropout SIMPLY", {}, ()),
    ("What is an epoch vs batch? URGENT", {}, ()),
    ("TL;DR dropout", {}, ()),
    ("CNN vs RNN", {}, ()),
    ("What is BiLSTM?", {}, ()),
    # chat interjections are not topics
    ("how do autoencoders work lol", {}, ()),
    # an English noun the corpus never writes, before a generic head noun, names a thing
    # the sources lack; joined with a missing acronym beside it
    ("how do diffusion models generate images from noise", {}, ("diffusion models",)),
    ("how does flash attention make transformers faster", {}, ("flash attention",)),
    ("how do graph neural networks pass messages between nodes", {}, ("graph neural networks",)),
    ("what is the lottery ticket hypothesis", {}, ("lottery ticket hypothesis",)),
    ("what does the noise schedule do in DDPM diffusion models", {}, ("DDPM diffusion models",)),
    # ... but an adjective, adverb, participle or verb before one describes
    ("why are plain dense layers bad for images", {}, ()),
    # ... nor the asker's own thing, a verb after its subject, or words across punctuation
    ("why does my toy model overfit", {}, ()),
    ("does momentum boost deep networks", {}, ()),
    ("I built a toy. Models keep failing", {}, ()),
    ("can plain feedforward layers with one wide hidden layer approximate any function", {}, ()),
    ("Stopping training once validation loss stops improving", {}, ()),
    ("What is a Boltzmann-type energy based network?", {}, ()),
    ("why do we need non-linear activations, couldn't we just stack linear layers", {}, ()),
    # a noun before a gerund the corpus has no form of names a thing too, as does a missing
    # word named in full ("data whitening", not "whitening")
    ("gradient checkpointing how does it trade compute for memory", {}, ("gradient checkpointing",)),
    ("weight tying in language models", {}, ("weight tying",)),
    ("what is teacher forcing when training sequence models", {}, ("teacher forcing",)),
    ("how does data whitening help", {}, ("data whitening",)),
    # ... but not a gerund that takes an object or goes on to a noun, one after a verb, a
    # plural or a count, nor the asker's own thing
    ("why is the model overshooting the minimum", {}, ()),
    ("why is the loss wobbling the whole time", {}, ("wobbling",)),  # (said alone: no English word)
    ("what is the sigmoid thing", {}, ()),
    ("overfitting handling", {}, ()),  # how to handle overfitting: a framing verb
    ("which optimiser keeps running averages of the squared gradient", {}, ()),
    ("why does my validation loss starts climbing", {}, ()),
    ("two networks competing, one judging", {}, ()),
    ("whats wrong with the sigmoid squashing function", {}, ()),
    ("why is my model plateauing", {}, ()),
    # a 1,000-letter "word" is neither corrected nor slow
    ("x" * 1000, {}, ("x" * 1000,)),
])
def test_plan(vocab, question, corrected, missing):
    plan = plan_question(question, vocab)
    assert corrected.items() <= dict(plan.corrections).items()
    if not corrected:
        assert plan.corrections == ()
    assert plan.missing == missing


def test_curly_apostrophe_is_folded_before_splitting():
    from rag.retrieve import clean_question

    assert split_parts(clean_question("What’s the difference between L1 and L2?")) == ("L1", "L2")


def test_rare_phrase_is_found_and_common_one_is_not(vocab):
    assert ("covari", "shift") in rare_phrases("What is internal covariate shift?", vocab) or \
        rare_phrases("What is internal covariate shift?", vocab)
    assert rare_phrases("What is a neural network?", vocab) == []


def test_vocabulary_ignores_adverts(vocab):
    # "schedule" occurs only in the training company's adverts (boilerplate units)
    assert not vocab.knows("schedule")


def test_table_rows_are_the_runs_under_a_header_row():
    from rag.text import table_rows

    text = ("Aspect Batch Gradient Descent Stochastic Gradient Descent\n"
            "Speed Very slow for large datasets Very fast per update\n"
            "Memory Requirement Very high Very low\n"
            "\n"
            "Key Parts of CNN\n"
            "Convolution layers find edges\n"
            "\n"
            "It is used in practice.")
    assert table_rows(text) == {"Speed Very slow for large datasets Very fast per update",
                                "Memory Requirement Very high Very low"}


def test_quotes_skip_a_tables_rows_but_the_prompt_keeps_them(index):
    from rag.context import candidate_sentences
    from rag.text import table_rows

    table = next(p for p in index.passages if p.title and len(table_rows(p.answer)) >= 5)
    rows = table_rows(table.answer)
    assert not any(s in rows for _, s in candidate_sentences(table, quoting=True))
    from rag.context import is_claim

    said = {r for r in rows if is_claim(r)}
    assert said and said <= {s for _, s in candidate_sentences(table)}


def test_a_doubled_letter_written_once_is_corrected_though_its_stem_is_a_corpus_word(vocab, pipeline):
    """"overfiting" stems to "overfit", a word the corpus uses, so it was never corrected,
    and the passages that write "overfitting" (how to avoid it) lost their keyword and
    title match: "overfiting how to fix" ranked the definition first and its prompt held
    nothing on fixing it."""
    assert vocab.undoubled("overfiting") == "overfitting" and vocab.undoubled("embeding") == "embedding"
    assert vocab.undoubled("overfitting") is None  # a word the corpus writes is no typo
    assert "discuss" in vocab.words and vocab.undoubled("discus") is None  # an English word is none either
    assert plan_question("OVERFITING how to fix", vocab).corrections == ()  # capitals: a name, not a typo
    typo = pipeline.search("overfiting how to fix")
    assert typo.corrections == (("overfiting", "overfitting"),)
    assert "avoid" in (typo.hits[0].passage.title or "").lower()


def test_named_subject_is_the_one_name_asked_about():
    from rag.query import named_subject

    assert named_subject("what is early stopping?") == "early stopping"
    assert named_subject("cross entropy loss meaning for classification") == "cross entropy loss"
    assert named_subject("Explain the Adam optimizer") == "Adam optimizer"
    # framing words inflected, or typed with an apostrophe, frame too
    assert named_subject("early stopping explained") == "early stopping"
    assert named_subject("why doesn't dropout help") == "dropout"
    assert named_subject("what is it?") is None
    assert named_subject("Define Epoch, Iterations and Batches.") is None  # a list, not one name
    assert named_subject("What is ReLU (Rectified Linear Unit)?") is None  # brackets spell a name out
    # two names, or a description, have no one subject
    assert named_subject("how does dropout differ from batch normalization in training") is None
    assert named_subject("that thing where you stop training once the validation score stalls") is None


@pytest.mark.parametrize(("sentence", "name", "listed"), [
    ("Ways to Prevent: You can use techniques like dropout, regularization, and early stopping.", "early stopping",
     True),
    ("Common loss functions include mean squared error for regression tasks and cross-entropy loss for "
     "classification tasks.", "cross entropy loss", True),
    ("Algorithms like decision trees, SVMs, and linear regression are used.", "decision trees", True),
    # explained where it stands: a relative clause, a verb, a parenthesis
    ("Common ones include ReLU, which helps; Sigmoid, which maps; and Tanh, which maps inputs to (-1, 1).", "tanh",
     False),
    ("The most common type is max pooling, which takes the maximum value in each window.", "max pooling", False),
    ("Supervised learning uses labels, and unsupervised learning finds patterns.", "unsupervised learning", False),
    ("Dropout, i.e. switching off units at random, helps.", "dropout", False),
    # a comma after an opening clause lists nothing
    ("During training, dropout randomly sets a fraction of the activations to zero.", "dropout", False),
    ("Additionally, batch normalization provides a slight regularization effect.", "batch normalization", False),
    ("In a transformer, attention assigns different weights to tokens.", "attention", False),
    ("Dropout prevents overfitting.", "batch normalization", False),  # not written at all
])
def test_names_in_list(sentence, name, listed):
    from rag.context import names_in_list
    from rag.keyword import tokenize

    assert names_in_list(sentence, tuple(tokenize(name))) is listed
