// Fuzzes the config reader (JSON text -> typed, validated Config).
#include <nlohmann/json.hpp>
#include "fuzz_contract.hpp"

#include "stars/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return stars::fuzz::check(data, size, [](const std::string& text) {
    const stars::Config c = stars::parse_config(text, "fuzz.json");
    // A config that parses must survive its own round trip.
    stars::Config again = stars::config_from_json(nlohmann::json(c));
    (void)again;
  });
}
