//! The model a spec trains: its layers, the shape each one produces, and the flat
//! parameter order every party reads and writes (SPEC.md §7.1). Trainers, the aggregator
//! and PyTorch twins must agree on this order bit for bit, because an update is a flat
//! vector and its commitment covers that vector.

use crate::format::TensorShape;
use serde::{Deserialize, Serialize};

/// The spec's `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelArch {
    /// Fully connected layers with ReLU between them, softmax cross-entropy on top.
    Mlp {
        input: u32,
        hidden: Vec<u32>,
        classes: u32,
    },
    /// A convolutional network: `layers` run in order on a `channels × height × width`
    /// image (the row's features in C, H, W order); the last layer is `linear` to
    /// `classes` outputs, softmax cross-entropy on top.
    Cnn {
        input: ImageShape,
        layers: Vec<CnnLayer>,
        classes: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageShape {
    pub channels: u32,
    pub height: u32,
    pub width: u32,
}

/// One layer of a [`ModelArch::Cnn`], as the spec's JSON writes it
/// (`{"type": "conv2d", "out_channels": 6, "kernel": 5, "padding": 2}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CnnLayer {
    /// Square `kernel`, zero `padding` on every side, no dilation, one group, with bias.
    Conv2d {
        out_channels: u32,
        kernel: u32,
        #[serde(default = "one")]
        stride: u32,
        #[serde(default)]
        padding: u32,
    },
    /// `size × size` windows with stride `size`; the windows must tile the image exactly,
    /// so no edge rule is needed (PyTorch's floor and ours agree there).
    MaxPool2d {
        size: u32,
    },
    // `{}` so that `deny_unknown_fields` refuses `{"type": "relu", "inplace": true}`.
    Relu {},
    /// Image to vector, in C, H, W order.
    Flatten {},
    /// Fully connected, with bias.
    Linear {
        out: u32,
    },
}

fn one() -> u32 {
    1
}

/// What flows between layers for one example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Image {
        channels: u32,
        height: u32,
        width: u32,
    },
    Flat(u32),
}

impl Activation {
    pub fn len(&self) -> u64 {
        match *self {
            Activation::Image {
                channels,
                height,
                width,
            } => u64::from(channels) * u64::from(height) * u64::from(width),
            Activation::Flat(n) => u64::from(n),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A layer as it runs, with the sizes its input fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Conv2d {
        in_channels: u32,
        out_channels: u32,
        kernel: u32,
        stride: u32,
        padding: u32,
    },
    MaxPool2d {
        size: u32,
    },
    Relu,
    Flatten,
    Linear {
        inputs: u32,
        outputs: u32,
    },
}

impl Op {
    /// The weight's dims (`[out, in, k, k]` or `[out, in]`, PyTorch's and candle's
    /// layout) and the bias's (`[out]`), for a layer that has parameters.
    pub fn parameter_dims(&self) -> Option<(Vec<u32>, Vec<u32>)> {
        match *self {
            Op::Conv2d {
                in_channels,
                out_channels,
                kernel,
                ..
            } => Some((
                vec![out_channels, in_channels, kernel, kernel],
                vec![out_channels],
            )),
            Op::Linear { inputs, outputs } => Some((vec![outputs, inputs], vec![outputs])),
            _ => None,
        }
    }
}

/// A model's layers as they run. `problems` is empty for a model that can run; otherwise
/// `ops` holds the layers before the first one that cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub input: Activation,
    pub ops: Vec<Op>,
    pub problems: Vec<String>,
}

/// Largest activation (values per example) a layer may produce: keeps a hostile spec from
/// making every trainer allocate without bound.
pub const MAX_ACTIVATION: u64 = 1 << 22;

impl ModelArch {
    /// Features per input row.
    pub fn input_features(&self) -> u64 {
        match self {
            ModelArch::Mlp { input, .. } => u64::from(*input),
            ModelArch::Cnn { input, .. } => Activation::Image {
                channels: input.channels,
                height: input.height,
                width: input.width,
            }
            .len(),
        }
    }

    pub fn classes(&self) -> u32 {
        match self {
            ModelArch::Mlp { classes, .. } | ModelArch::Cnn { classes, .. } => *classes,
        }
    }

    /// The layers as they run, each checked against the shape it receives.
    pub fn plan(&self) -> Plan {
        match self {
            ModelArch::Mlp {
                input,
                hidden,
                classes,
            } => mlp_plan(*input, hidden, *classes),
            ModelArch::Cnn {
                input,
                layers,
                classes,
            } => cnn_plan(*input, layers, *classes),
        }
    }

    /// Number of parameters (every weight and bias) of the layers that can run.
    pub fn parameter_count(&self) -> u64 {
        self.tensor_shapes()
            .iter()
            .map(TensorShape::len)
            .fold(0u64, u64::saturating_add)
    }

    /// The tensors in file order: for the i-th layer with parameters, `l{i}.weight` then
    /// `l{i}.bias`; values row-major in each.
    pub fn tensor_shapes(&self) -> Vec<TensorShape> {
        self.plan()
            .ops
            .iter()
            .filter_map(Op::parameter_dims)
            .enumerate()
            .flat_map(|(i, (w, b))| {
                [
                    TensorShape {
                        name: format!("l{i}.weight"),
                        dims: w,
                    },
                    TensorShape {
                        name: format!("l{i}.bias"),
                        dims: b,
                    },
                ]
            })
            .collect()
    }
}

fn mlp_plan(input: u32, hidden: &[u32], classes: u32) -> Plan {
    let mut widths = vec![input];
    widths.extend_from_slice(hidden);
    widths.push(classes);
    let mut ops = Vec::new();
    for (i, w) in widths.windows(2).enumerate() {
        if i > 0 {
            ops.push(Op::Relu);
        }
        ops.push(Op::Linear {
            inputs: w[0],
            outputs: w[1],
        });
    }
    let mut problems = Vec::new();
    if hidden.contains(&0) {
        problems.push("a hidden layer has width 0".into());
    }
    Plan {
        input: Activation::Flat(input),
        ops,
        problems,
    }
}

fn cnn_plan(input: ImageShape, layers: &[CnnLayer], classes: u32) -> Plan {
    let start = Activation::Image {
        channels: input.channels,
        height: input.height,
        width: input.width,
    };
    let mut plan = Plan {
        input: start,
        ops: Vec::new(),
        problems: Vec::new(),
    };
    if input.channels == 0 || input.height == 0 || input.width == 0 {
        plan.problems
            .push("the input image has a zero dimension".into());
        return plan;
    }
    let mut at = start;
    for (i, layer) in layers.iter().enumerate() {
        match step(at, layer) {
            Ok((_, next)) if next.len() > MAX_ACTIVATION => {
                plan.problems.push(format!(
                    "layer {i} ({}) produces {} values per example (limit {MAX_ACTIVATION})",
                    layer.name(),
                    next.len()
                ));
                return plan;
            }
            Ok((op, next)) => {
                plan.ops.push(op);
                at = next;
            }
            Err(why) => {
                plan.problems
                    .push(format!("layer {i} ({}) {why}", layer.name()));
                return plan;
            }
        }
    }
    match plan.ops.last() {
        Some(Op::Linear { outputs, .. }) if *outputs == classes => {}
        _ => plan.problems.push(format!(
            "the last layer must be linear with out = classes ({classes})"
        )),
    }
    plan
}

impl CnnLayer {
    pub fn name(&self) -> &'static str {
        match self {
            CnnLayer::Conv2d { .. } => "conv2d",
            CnnLayer::MaxPool2d { .. } => "max_pool2d",
            CnnLayer::Relu {} => "relu",
            CnnLayer::Flatten {} => "flatten",
            CnnLayer::Linear { .. } => "linear",
        }
    }
}

/// One layer applied to the activation `at`: the op it runs and what it produces.
fn step(at: Activation, layer: &CnnLayer) -> Result<(Op, Activation), String> {
    let image = || match at {
        Activation::Image {
            channels,
            height,
            width,
        } => Ok((channels, height, width)),
        Activation::Flat(_) => Err("needs an image input, but it follows a flatten".to_string()),
    };
    match *layer {
        CnnLayer::Conv2d {
            out_channels,
            kernel,
            stride,
            padding,
        } => {
            let (c, h, w) = image()?;
            if out_channels == 0 || kernel == 0 || stride == 0 {
                return Err("needs out_channels, kernel and stride of at least 1".into());
            }
            let out = |side: u32| -> Result<u32, String> {
                let padded = u64::from(side) + 2 * u64::from(padding);
                if padded < u64::from(kernel) {
                    return Err(format!(
                        "has a kernel of {kernel} on a side of {side} padded by {padding}"
                    ));
                }
                u32::try_from((padded - u64::from(kernel)) / u64::from(stride) + 1)
                    .map_err(|_| "produces a side above u32".to_string())
            };
            let (oh, ow) = (out(h)?, out(w)?);
            Ok((
                Op::Conv2d {
                    in_channels: c,
                    out_channels,
                    kernel,
                    stride,
                    padding,
                },
                Activation::Image {
                    channels: out_channels,
                    height: oh,
                    width: ow,
                },
            ))
        }
        CnnLayer::MaxPool2d { size } => {
            let (c, h, w) = image()?;
            if size == 0 || h % size != 0 || w % size != 0 {
                return Err(format!(
                    "has a window of {size}, which does not tile the {h} × {w} image"
                ));
            }
            Ok((
                Op::MaxPool2d { size },
                Activation::Image {
                    channels: c,
                    height: h / size,
                    width: w / size,
                },
            ))
        }
        CnnLayer::Relu {} => Ok((Op::Relu, at)),
        CnnLayer::Flatten {} => {
            image()?;
            let n = u32::try_from(at.len()).map_err(|_| "flattens to above u32".to_string())?;
            Ok((Op::Flatten, Activation::Flat(n)))
        }
        CnnLayer::Linear { out } => match at {
            Activation::Flat(n) if out > 0 => Ok((
                Op::Linear {
                    inputs: n,
                    outputs: out,
                },
                Activation::Flat(out),
            )),
            Activation::Flat(_) => Err("has out = 0".into()),
            Activation::Image { .. } => Err("needs a flat input: put a flatten before it".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lenet() -> ModelArch {
        serde_json::from_str(
            r#"{"type": "cnn", "input": {"channels": 1, "height": 28, "width": 28},
                "layers": [
                  {"type": "conv2d", "out_channels": 6, "kernel": 5, "padding": 2},
                  {"type": "relu"}, {"type": "max_pool2d", "size": 2},
                  {"type": "conv2d", "out_channels": 16, "kernel": 5},
                  {"type": "relu"}, {"type": "max_pool2d", "size": 2},
                  {"type": "flatten"},
                  {"type": "linear", "out": 120}, {"type": "relu"},
                  {"type": "linear", "out": 84}, {"type": "relu"},
                  {"type": "linear", "out": 10}],
                "classes": 10}"#,
        )
        .expect("LeNet parses")
    }

    #[test]
    fn lenet_has_pytorchs_parameter_count_and_order() {
        let m = lenet();
        let plan = m.plan();
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        // torch.nn LeNet-5 on 28 × 28 with padding 2: 156 + 2,416 + 48,120 + 10,164 + 850.
        assert_eq!(m.parameter_count(), 61_706);
        let shapes: Vec<(String, Vec<u32>)> = m
            .tensor_shapes()
            .into_iter()
            .map(|t| (t.name, t.dims))
            .collect();
        assert_eq!(shapes[0], ("l0.weight".into(), vec![6, 1, 5, 5]));
        assert_eq!(shapes[2], ("l1.weight".into(), vec![16, 6, 5, 5]));
        assert_eq!(shapes[4], ("l2.weight".into(), vec![120, 400]));
        assert_eq!(shapes[9], ("l4.bias".into(), vec![10]));
        assert_eq!(m.input_features(), 784);
    }

    #[test]
    fn an_mlp_plans_as_linear_layers_with_relu_between() {
        let m = ModelArch::Mlp {
            input: 64,
            hidden: vec![32],
            classes: 10,
        };
        assert_eq!(
            m.plan().ops,
            vec![
                Op::Linear {
                    inputs: 64,
                    outputs: 32
                },
                Op::Relu,
                Op::Linear {
                    inputs: 32,
                    outputs: 10
                }
            ]
        );
        assert_eq!(m.parameter_count(), 2410);
    }

    #[test]
    fn layers_that_cannot_run_are_named() {
        let with = |layers: serde_json::Value| -> Vec<String> {
            let m: ModelArch = serde_json::from_value(serde_json::json!({
                "type": "cnn", "input": {"channels": 1, "height": 8, "width": 8},
                "layers": layers, "classes": 10
            }))
            .unwrap();
            m.plan().problems
        };
        let p = with(serde_json::json!([{"type": "linear", "out": 10}]));
        assert!(
            p[0].contains("layer 0 (linear) needs a flat input"),
            "{p:?}"
        );
        let p = with(serde_json::json!([{"type": "flatten"},
            {"type": "conv2d", "out_channels": 2, "kernel": 3}]));
        assert!(p[0].contains("layer 1 (conv2d) needs an image"), "{p:?}");
        let p = with(serde_json::json!([{"type": "conv2d", "out_channels": 2, "kernel": 9}]));
        assert!(p[0].contains("kernel of 9 on a side of 8"), "{p:?}");
        let p = with(serde_json::json!([{"type": "max_pool2d", "size": 0}]));
        assert!(p[0].contains("window of 0"), "{p:?}");
        let p = with(serde_json::json!([{"type": "max_pool2d", "size": 3}]));
        assert!(p[0].contains("does not tile the 8 × 8 image"), "{p:?}");
        let p = with(serde_json::json!([{"type": "flatten"}, {"type": "linear", "out": 9}]));
        assert!(p[0].contains("last layer must be linear with out = classes (10)"));
        let p = with(serde_json::json!([{"type": "conv2d", "out_channels": 70000,
            "kernel": 1}]));
        assert!(p[0].contains("limit"), "{p:?}");
        assert!(
            with(serde_json::json!([{"type": "flatten"}, {"type": "linear", "out": 10}]))
                .is_empty()
        );
    }

    #[test]
    fn unknown_layers_and_fields_are_refused() {
        for bad in [
            r#"{"type": "cnn", "input": {"channels": 1, "height": 8, "width": 8},
                "layers": [{"type": "dropout"}], "classes": 10}"#,
            r#"{"type": "cnn", "input": {"channels": 1, "height": 8, "width": 8},
                "layers": [{"type": "relu", "inplace": true}], "classes": 10}"#,
            r#"{"type": "cnn", "input": {"channels": 1, "height": 8, "width": 8, "depth": 1},
                "layers": [], "classes": 10}"#,
        ] {
            assert!(serde_json::from_str::<ModelArch>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stride_and_padding_follow_pytorchs_output_size() {
        // floor((h + 2p − k) / s) + 1, as torch.nn.Conv2d: 28 → 14 with k 3, s 2, p 1.
        let (op, next) = step(
            Activation::Image {
                channels: 3,
                height: 28,
                width: 27,
            },
            &CnnLayer::Conv2d {
                out_channels: 4,
                kernel: 3,
                stride: 2,
                padding: 1,
            },
        )
        .unwrap();
        assert_eq!(op.parameter_dims().unwrap().0, vec![4, 3, 3, 3]);
        assert_eq!(
            next,
            Activation::Image {
                channels: 4,
                height: 14,
                width: 14
            }
        );
    }
}
