# Runs CMD with ARGS and checks its exit code (WANT_RC) and that stderr names WANT_TEXT.
execute_process(COMMAND ${CMD} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL WANT_RC)
  message(FATAL_ERROR "exit code ${rc}, expected ${WANT_RC}\nstdout: ${out}\nstderr: ${err}")
endif()
string(FIND "${err}" "${WANT_TEXT}" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "stderr does not mention '${WANT_TEXT}':\n${err}")
endif()
