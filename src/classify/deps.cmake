# classify: Hyperscan for the User-Agent pattern set, libcurl for `rules update`.
pkg_check_modules(HYPERSCAN REQUIRED IMPORTED_TARGET libhs)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
target_link_libraries(to_classify PUBLIC to_token PkgConfig::HYPERSCAN PkgConfig::CURL)
# A build tree reads the source tree's rule data; an install sets TO_RULES_DIR itself.
if(NOT TO_RULES_DIR)
  set(TO_RULES_DIR ${CMAKE_SOURCE_DIR}/data/rules)
endif()
target_compile_definitions(to_classify PRIVATE TO_RULES_DIR="${TO_RULES_DIR}")
