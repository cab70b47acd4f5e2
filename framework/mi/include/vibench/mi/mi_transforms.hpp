#pragma once
// Invertible elementwise maps applied to an MI task's observations (the BMI benchmark's style, Czyż et al.
// 2023): I(f(X); g(Y)) = I(X; Y) for invertible f, g, and the density ratio at (f(x), g(y)) is the base
// task's at (x, y), so the oracle inverts the map and evaluates the base ratio.
#include <string>
#include <vector>

namespace vibench {

enum class MiTransform { none, cube, asinh };

MiTransform parse_mi_transform(const std::string& name);  // none | cube | asinh
const std::vector<std::string>& mi_transform_names();

double apply_mi_transform(MiTransform t, double v);    // v³, asinh(v)
double invert_mi_transform(MiTransform t, double v);   // ∛v, sinh(v)

}  // namespace vibench
