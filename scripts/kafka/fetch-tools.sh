#!/usr/bin/env bash
# Fetches Kafka's command-line tools (org.apache.kafka:kafka-tools:$KAFKA_VERSION, the broker's
# version) and their runtime dependencies as jars from Maven Central into
# $KAFKA_CACHE_DIR/<version>/tools-libs (default <repo>/.cache/kafka/<version>/tools-libs, outside
# git), the way fetch.sh fetches the broker. The benchmark (scripts/bench.sh) runs
# org.apache.kafka.tools.ProducerPerformance from them. Idempotent: a stamp file makes a complete
# cache a no-op. Prints the directory on stdout. Needs: mvn (Maven 3.6.3+), Java 17+.
# See scripts/kafka/common.sh for the environment variables.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DEP_PLUGIN_VERSION="3.8.1"

VERSION_DIR="$KAFKA_CACHE_DIR/$KAFKA_VERSION"
TOOLS_DIR="$VERSION_DIR/tools-libs"
STAMP="$VERSION_DIR/.tools-fetched"

pom() {
  cat <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.crm</groupId>
  <artifactId>kafka-tools-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>$DEP_PLUGIN_VERSION</version>
      </plugin>
    </plugins>
  </build>
</project>
POM
}

kafka_fetch_jars "$(pom)" "$TOOLS_DIR" "$STAMP" "kafka-tools-$KAFKA_VERSION.jar"
