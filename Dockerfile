# npsloop image: the web app (`npsloop serve`) and the background worker (`npsloop worker`)
# from one image; see docs/deploy.md and compose.yaml.
FROM node:22-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=assets /src/node_modules/echarts/dist/echarts.min.js src/npsloop/web/static/vendor/
COPY --from=assets /src/node_modules/htmx.org/dist/htmx.min.js src/npsloop/web/static/vendor/
RUN pip install . && useradd --system --home /app npsloop
USER npsloop
EXPOSE 8000
CMD ["npsloop", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-demo"]
