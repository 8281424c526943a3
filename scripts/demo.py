"""`make demo`: sample catalog -> train -> evaluate -> serve on 127.0.0.1 -> three listings.

Runs on data it generates (no Rakuten data needed); everything lands in .work/demo/.
"""

from __future__ import annotations

import base64
import io
import json
import random
import shutil
from pathlib import Path

import httpx

from inference.local import running_server
from prodcat.evaluation import evaluate, write_outputs
from prodcat.model import ProductTypeModel
from prodcat.sample_catalog import draw_photo, write_sample_catalog
from prodcat.training import train

WORK = Path(".work/demo")


def photo_b64(code: int, seed: int) -> str:
    buf = io.BytesIO()
    draw_photo(code, random.Random(seed)).save(buf, format="JPEG", quality=85)
    return base64.b64encode(buf.getvalue()).decode()


def show(title: str, answer: dict[str, object]) -> None:
    print(f"\n{title}  (model {answer['model_version']}, used {'+'.join(answer['modalities'])})")  # type: ignore[arg-type]
    for p in answer["predictions"]:  # type: ignore[attr-defined]
        print(f"  {p['code']:>5}  {p['probability']:.3f}  {p['name']}")


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    print("1/4 writing a sample catalog (generated text and photos)")
    write_sample_catalog(WORK / "train", per_class=10, seed=1)
    write_sample_catalog(WORK / "test", per_class=4, seed=2)

    print("2/4 training")
    result = train(WORK / "train")
    result.model.save(WORK / "model")
    print(f"    model {result.model.version} trained in {result.seconds:.1f} s")

    print("3/4 evaluating on held-out generated listings")
    model = ProductTypeModel.load(WORK / "model")
    evaluation = evaluate(model, WORK / "test")
    paths = write_outputs(evaluation, model, WORK / "evaluation")
    print(json.dumps({k: v for k, v in evaluation.metrics.items() if k != "data"}, indent=2))
    print(f"    report: {paths['report']}")

    print("4/4 serving on 127.0.0.1 and asking for three listings")
    listings = {
        "text only": {
            "designation": "Piscine hors sol tubulaire Intex 4,57 x 1,22 m",
            "description": "Avec pompe &amp; filtre à sable",
        },
        "photo only": {"photo": photo_b64(2583, seed=7)},
        "text + photo": {
            "designation": "Figurine Funko Pop Marvel 15 cm",
            "photo": photo_b64(1140, seed=8),
        },
    }
    with running_server(WORK / "model") as url, httpx.Client(base_url=url, timeout=30) as client:
        print(f"    server up at {url}: /ping -> {client.get('/ping').json()}")
        for title, body in listings.items():
            response = client.post("/invocations", json={**body, "top_k": 5})
            response.raise_for_status()
            show(title, response.json())
    print("\nserver stopped. Done.")


if __name__ == "__main__":
    main()
