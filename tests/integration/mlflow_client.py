#!/usr/bin/env python3
"""What a team does with MLflow, against a real tracking server: run by
mlflow.sh with MLflow's own Python client (a venv of the pinned version).

  mlflow_client.py TRACKING_URI BUCKET EXPERIMENT

Uploads training data to the bucket with boto3, logs two runs (each with
its dataset input, a git commit tag, a plot and a pyfunc model), registers
the first run's model as version 1 of "churn" with the alias "champion",
deletes the second run, and prints what it made as JSON."""
import io
import json
import sys

import boto3
import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2


def main():
    uri, bucket, experiment = sys.argv[1], sys.argv[2], sys.argv[3]
    mlflow.set_tracking_uri(uri)
    s3 = boto3.client("s3")
    out = {"runs": []}
    exp_id = mlflow.set_experiment(experiment).experiment_id
    out["experiment_id"] = exp_id
    for i, commit in ((1, "4f2a9c1e0b7d"), (2, "9d8c7b6a5f4e")):
        df = pd.DataFrame({"x": [float(j * i) for j in range(20)], "y": [j % 2 for j in range(20)]})
        key = "data/train-%d.csv" % i
        body = df.to_csv(index=False).encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        with mlflow.start_run(run_name="train-%d" % i, tags={"mlflow.source.git.commit": commit}) as run:
            ds = mlflow.data.from_pandas(df, source="s3://%s/%s" % (bucket, key), name="train-%d" % i)
            mlflow.log_input(ds, context="training")
            mlflow.log_metric("auc", 0.8 + i / 100)
            mlflow.log_text("a plot %d" % i, "plots/roc.txt")
            info = mlflow.pyfunc.log_model(name="model", python_model=Doubler(),
                                           input_example=pd.DataFrame({"x": [1.0]}))
            out["runs"].append({"run_id": run.info.run_id, "data": key, "model_id": info.model_id,
                                "model_uri": info.model_uri, "artifact_uri": run.info.artifact_uri})
    client = MlflowClient()
    mv = mlflow.register_model(out["runs"][0]["model_uri"], "churn")
    client.set_registered_model_alias("churn", "champion", mv.version)
    out["registered"] = {"name": "churn", "version": mv.version, "alias": "champion",
                         "source": mv.source}
    client.delete_run(out["runs"][1]["run_id"])
    # a run that is still going: no end time yet
    out["running"] = client.create_run(exp_id, run_name="still-going").info.run_id
    print(json.dumps(out))


if __name__ == "__main__":
    main()
