#!/usr/bin/env bash
# Fetches the Apache Kafka broker (org.apache.kafka:kafka_2.13:$KAFKA_VERSION) and its runtime
# dependencies as jars from Maven Central into $KAFKA_CACHE_DIR/<version>/libs (default
# <repo>/.cache/kafka/<version>/libs, outside git). Adds a logging backend (Log4j 2 via the SLF4J
# binding) that the broker's pom leaves out. Idempotent: a stamp file makes a complete cache a
# no-op. Prints the libs directory on stdout. Needs: mvn (Maven 3.6.3+), Java 17+.
# See scripts/kafka/common.sh for the environment variables.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Versions of what the broker's pom does not bring itself (resolved from Maven Central).
LOG4J2_VERSION="2.24.3"
DEP_PLUGIN_VERSION="3.8.1"

VERSION_DIR="$KAFKA_CACHE_DIR/$KAFKA_VERSION"
STAMP="$VERSION_DIR/.fetched"

pom() {
  cat <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.crm</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- logging backend: the broker logs through SLF4J 1.7; the binary distribution ships Log4j 2 -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J2_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J2_VERSION</version>
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

# Class data sharing archives are tied to the broker's jars: removed with them.
kafka_fetch_jars "$(pom)" "$KAFKA_LIBS_DIR" "$STAMP" "kafka_2.13-$KAFKA_VERSION.jar" "$VERSION_DIR"/*.jsa
