# Turns the synonym table into a C++ source (cmake -DIN=tsv -DOUT=cpp -P embed_synonyms.cmake),
# so the binary needs no data file at run time.
file(READ ${IN} content)
file(WRITE ${OUT} "// Generated from enforcement/data/distillguard-synonyms.tsv by embed_synonyms.cmake: do not edit.\n"
  "namespace dg::enforcement {\nextern const char* const builtin_synonyms_tsv;\n"
  "const char* const builtin_synonyms_tsv = R\"dgsyn(${content})dgsyn\";\n}  // namespace dg::enforcement\n")
