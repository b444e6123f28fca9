# Helpers that declare one small library per folder, as abseil's AbseilHelpers.cmake does.
#
#   crm_cc_library(NAME eventlog SRCS a.cc HDRS a.h DEPS crm::base RocksDB::rocksdb)
#     -> target crm_eventlog, alias crm::eventlog
#   crm_cc_test(NAME eventlog_test SRCS eventlog_test.cc DEPS crm::eventlog [LABELS integration])
#     -> gtest executable registered with ctest

# Designated initializers that leave fields at their defaults are intended.
set(CRM_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)

function(crm_cc_library)
  cmake_parse_arguments(CRM "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  if(CRM_SRCS)
    add_library(crm_${CRM_NAME} STATIC ${CRM_SRCS} ${CRM_HDRS})
    target_link_libraries(crm_${CRM_NAME} PUBLIC ${CRM_DEPS})
    target_compile_options(crm_${CRM_NAME} PRIVATE ${CRM_WARNINGS})
    target_include_directories(crm_${CRM_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  else()
    add_library(crm_${CRM_NAME} INTERFACE)
    target_link_libraries(crm_${CRM_NAME} INTERFACE ${CRM_DEPS})
    target_include_directories(crm_${CRM_NAME} INTERFACE ${PROJECT_SOURCE_DIR})
  endif()
  add_library(crm::${CRM_NAME} ALIAS crm_${CRM_NAME})
endfunction()

function(crm_cc_test)
  cmake_parse_arguments(CRM "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${CRM_NAME} ${CRM_SRCS})
  target_link_libraries(${CRM_NAME} PRIVATE ${CRM_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${CRM_NAME} PRIVATE ${CRM_WARNINGS})
  gtest_discover_tests(${CRM_NAME} PROPERTIES LABELS "unit;${CRM_LABELS}" DISCOVERY_TIMEOUT 30)
endfunction()
