# The milter front end (src/rewrite/milter.c) links libmilter.
find_library(MILTER_LIB milter REQUIRED)
target_link_libraries(to_rewrite PUBLIC ${MILTER_LIB})
