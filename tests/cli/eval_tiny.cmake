# stars-eval on the tiny run: table on stdout, JSON with the documented schema, CSV rows.
execute_process(COMMAND ${EVAL} --checkpoint ${RUN} --depths 1..3,5 --n 24 --diagnostics
  --diag-n 8 --exit-tol 0.001 --out ${RUN}/eval.json --csv ${RUN}/eval.csv --threads 1
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "stars-eval failed (${rc}):\n${out}\n${err}")
endif()
file(READ ${RUN}/eval.json j)
string(JSON n_depths LENGTH "${j}" depths)
if(NOT n_depths EQUAL 4)
  message(FATAL_ERROR "expected 4 depths in eval.json, got ${n_depths}")
endif()
string(JSON ckpt GET "${j}" checkpoint)
string(JSON d3 GET "${j}" depths 3 depth)
string(JSON n GET "${j}" depths 0 n)
string(JSON rho GET "${j}" depths 0 rho_mean)
string(JSON loops GET "${j}" depths 0 mean_loops)
if(NOT d3 EQUAL 5 OR NOT n EQUAL 24)
  message(FATAL_ERROR "eval.json content unexpected: ${j}")
endif()
file(STRINGS ${RUN}/eval.csv rows)
list(LENGTH rows n_rows)
if(NOT n_rows EQUAL 5)
  message(FATAL_ERROR "eval.csv should have a header and 4 rows, has ${n_rows}")
endif()
string(FIND "${out}" "accuracy" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "no table on stdout:\n${out}")
endif()

# Generated problems of any task round-trip through JSONL: --save-data, then --data.
execute_process(COMMAND ${EVAL} --checkpoint ${RUN} --task chain --difficulties 1..2 --n 5
  --depths 1 --save-data ${RUN}/chain.jsonl --threads 1
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
file(STRINGS ${RUN}/chain.jsonl lines)
list(LENGTH lines n_lines)
if(NOT rc EQUAL 0 OR NOT n_lines EQUAL 10)
  message(FATAL_ERROR "--save-data: exit ${rc}, ${n_lines} lines (want 10):\n${err}")
endif()
execute_process(COMMAND ${EVAL} --checkpoint ${RUN} --data ${RUN}/chain.jsonl --depths 1
  --threads 1 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "--data of saved problems failed (${rc}):\n${err}")
endif()
